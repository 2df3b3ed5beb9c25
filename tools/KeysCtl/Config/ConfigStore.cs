using System.Text.Json;

namespace Keys.KeysCtl.Config;

/// <summary>What <c>keysctl login</c> keeps: the KeyAdmin it logged in to and the token for it.</summary>
public sealed record StoredLogin(string Url, string Token);

/// <summary>
/// The user's login, in <c>$XDG_CONFIG_HOME/keysctl/config.json</c> (default <c>~/.config/keysctl/config.json</c>):
/// the file is the user's alone (0600, in a 0700 directory) from the moment it exists.
/// </summary>
public sealed class ConfigStore(string path)
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string Path => path;

    public static ConfigStore For(KeysCtlConsole console)
    {
        // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
        var configHome = console.GetVariable("XDG_CONFIG_HOME") is { } xdg && System.IO.Path.IsPathRooted(xdg)
            ? xdg
            : System.IO.Path.Combine(
                console.GetVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return new ConfigStore(System.IO.Path.Combine(configHome, "keysctl", "config.json"));
    }

    /// <summary>The stored login, or null when there is none. A file others may read is still used, with a warning.</summary>
    public StoredLogin? Read(TextWriter warnings)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~FileMode) != 0)
        {
            warnings.WriteLine($"warning: {path} is readable by other users; run: chmod 600 {path}");
        }

        try
        {
            var login = JsonSerializer.Deserialize<StoredLogin>(text, Json);
            return login is { Url.Length: > 0, Token.Length: > 0 } ? login : throw new JsonException();
        }
        catch (JsonException)
        {
            throw new KeysCtlException($"{path} is not a keysctl login; run `keysctl login` again, or `keysctl logout` to remove it");
        }
    }

    public void Write(StoredLogin login)
    {
        var directory = System.IO.Path.GetDirectoryName(path)!;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(login, Json);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(path, bytes);
            return;
        }

        Directory.CreateDirectory(directory, DirectoryMode);
        // The directory may have been there already, made wider by someone else: it holds a credential.
        File.SetUnixFileMode(directory, DirectoryMode);

        // A new file, created 0600 (the umask can only narrow that), then renamed over the old one: the token is never in
        // a file others may read, and a reader never sees half a file. Overwriting in place would keep an old file's mode.
        var temporary = System.IO.Path.Combine(directory, $".config.json.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = System.IO.FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = FileMode,
            }))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Removes the stored login; false when there was none.</summary>
    public bool Delete()
    {
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }
}
