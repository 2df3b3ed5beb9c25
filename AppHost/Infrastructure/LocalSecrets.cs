using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace Keys.AppHost.Infrastructure;

/// <summary>
/// Random secrets that must survive restarts on a developer machine (the Postgres passwords of a persisted data
/// directory, the operator token), kept as files readable by their owner only.
/// </summary>
[UnsupportedOSPlatform("windows")]
public static class LocalSecrets
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string GetOrCreate(string path)
    {
        if (File.Exists(path))
        {
            RestrictToOwner(path);
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0)
            {
                return existing;
            }
        }

        var secret = RandomSecret.Create(40);
        WriteAtomically(path, secret);
        return secret;
    }

    /// <summary>
    /// Replaces <paramref name="path"/> with <paramref name="contents"/>, mode 0600. The text goes into a file of the
    /// same directory that is 0600 from its creation, which is then renamed over the old one: at no moment can another
    /// user open the secret, and a crash leaves either the old file or the new one, never half of one.
    /// </summary>
    public static void WriteAtomically(string path, string contents)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        // A directory made here (outside local infrastructure, which prepares its own) is its owner's only.
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Convert.ToHexString(RandomNumberGenerator.GetBytes(6))}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                // CreateNew: never write through a file (or a link) that someone else put there first.
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerOnly,
            }))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(contents);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            // The umask can only take bits away, but say it outright rather than rely on it.
            File.SetUnixFileMode(temporary, OwnerOnly);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Takes every permission but the owner's read and write off a secret file that has more.</summary>
    public static void RestrictToOwner(string path)
    {
        var mode = File.GetUnixFileMode(path);
        if ((mode & ~OwnerOnly) != 0)
        {
            File.SetUnixFileMode(path, mode & OwnerOnly);
        }
    }
}
