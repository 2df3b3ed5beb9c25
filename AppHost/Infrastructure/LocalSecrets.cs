using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace Keys.AppHost.Infrastructure;

/// <summary>
/// Random secrets that must survive restarts on a developer machine (the Postgres password of a persisted data
/// directory, the operator token), kept as files readable by their owner only.
/// </summary>
[UnsupportedOSPlatform("windows")]
public static class LocalSecrets
{
    public static string GetOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0)
            {
                return existing;
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var secret = RandomNumberGenerator.GetString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 40);
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(secret);
        }

        return secret;
    }
}
