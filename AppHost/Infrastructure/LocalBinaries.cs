namespace Keys.AppHost.Infrastructure;

/// <summary>The server binaries that Debian's <c>postgresql</c> and <c>redis-server</c> packages install.</summary>
public sealed record LocalBinaries(string PostgresBinDirectory, string RedisServer)
{
    public const string PostgresBinConfigKey = "Keys:Local:PostgresBinDirectory";
    public const string RedisServerConfigKey = "Keys:Local:RedisServer";

    public static LocalBinaries? Find(string? postgresBinDirectory, string? redisServer)
    {
        var postgres = postgresBinDirectory ?? FindPostgresBinDirectory();
        var redis = redisServer ?? FindOnPath("redis-server");
        return postgres is not null && IsPostgresBinDirectory(postgres) && redis is not null && File.Exists(redis)
            ? new LocalBinaries(postgres, redis)
            : null;
    }

    private static bool IsPostgresBinDirectory(string directory) =>
        File.Exists(Path.Combine(directory, "postgres")) && File.Exists(Path.Combine(directory, "initdb"));

    // Debian keeps each major version under /usr/lib/postgresql/<major>/bin; take the newest that has a server.
    private static string? FindPostgresBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(d => (Major: int.TryParse(Path.GetFileName(d), out var major) ? major : -1, Bin: Path.Combine(d, "bin")))
            .Where(v => v.Major >= 0 && IsPostgresBinDirectory(v.Bin))
            .OrderByDescending(v => v.Major)
            .Select(v => v.Bin)
            .FirstOrDefault();
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin")
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
