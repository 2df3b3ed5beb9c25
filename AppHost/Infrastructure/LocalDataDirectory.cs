using System.Diagnostics;
using System.Runtime.Versioning;

namespace Keys.AppHost.Infrastructure;

[UnsupportedOSPlatform("windows")]
public static class LocalDataDirectory
{
    /// <summary>
    /// The data directory holds every secret of a local run: 0700, its owner's only. As root, Postgres runs as the
    /// unprivileged postgres user, which must still get through to its own data directory inside: root:postgres 0710
    /// lets the postgres group pass through (not list, not read, not write) and keeps every other user out.
    /// </summary>
    public static void Prepare(string dataDirectory)
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(dataDirectory, ownerOnly);
        // Closed first, so that an older, wider directory is never open to the postgres group beyond passing through.
        File.SetUnixFileMode(dataDirectory, ownerOnly);
        if (Environment.IsPrivilegedProcess)
        {
            SetGroup(dataDirectory, LocalPostgresExtensions.ServerUser);
            File.SetUnixFileMode(dataDirectory, ownerOnly | UnixFileMode.GroupExecute);
        }
    }

    // No .NET API sets a file's group by name; chgrp asks the system's user database, as setpriv does for the server.
    private static void SetGroup(string path, string group)
    {
        using var chgrp = Process.Start(new ProcessStartInfo("chgrp", [group, path]) { RedirectStandardError = true })
            ?? throw new InvalidOperationException("chgrp could not be started.");
        var error = chgrp.StandardError.ReadToEnd();
        chgrp.WaitForExit();
        if (chgrp.ExitCode != 0)
        {
            throw new InvalidOperationException($"The data directory {path} could not be given to the group '{group}': {error.Trim()}");
        }
    }
}
