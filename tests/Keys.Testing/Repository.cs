namespace Keys.Testing;

/// <summary>The checkout the tests and benchmarks were built from.</summary>
public static class Repository
{
    /// <summary>The folder that holds <c>Keys.sln</c>, above the running build's output.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary><c>artifacts/<paramref name="name"/></c> at the root, created if need be: what a run leaves to look at.</summary>
    public static DirectoryInfo Artifacts(string name) => Directory.CreateDirectory(Path.Combine(Root, "artifacts", name));

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Keys.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"Keys.sln not found above {AppContext.BaseDirectory}.");
    }
}
