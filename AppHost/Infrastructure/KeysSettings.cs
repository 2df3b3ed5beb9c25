using Microsoft.Extensions.Configuration;

namespace Keys.AppHost.Infrastructure;

/// <summary>The AppHost's own settings, from configuration (<c>Keys:*</c>), each with a default for a developer box.</summary>
public sealed record KeysSettings(string DataDirectory, int GatewayPort, int KeyAdminPort, int OrdersPort, int KeyValidationReplicas, int GatewayReplicas)
{
    public const string DataDirectoryKey = "Keys:DataDirectory";

    public static KeysSettings From(IConfiguration configuration)
    {
        var dataDirectory = configuration[DataDirectoryKey] is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : DefaultDataDirectory();

        return new KeysSettings(
            dataDirectory,
            configuration.GetValue("Keys:Ports:Gateway", 8080),
            configuration.GetValue("Keys:Ports:KeyAdmin", 8090),
            configuration.GetValue("Keys:Ports:Orders", 8070),
            configuration.GetValue("Keys:Replicas:KeyValidation", 1),
            configuration.GetValue("Keys:Replicas:Gateway", 1));
    }

    // As root, data goes where system services keep theirs, where the unprivileged postgres user can reach it
    // (a checkout under /root is closed to it). Otherwise, the user's own data directory.
    private static string DefaultDataDirectory() => Environment.IsPrivilegedProcess
        ? "/var/lib/keys"
        : Path.Combine(
            Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"),
            "keys");
}
