namespace Keys.AppHost.Infrastructure;

/// <summary>
/// What every process the AppHost starts inherits. Aspire starts DCP with a copy of the AppHost's environment as it
/// is at that moment, and DCP starts every executable and project (and the dashboard) with that copy underneath what
/// the app model gives the resource: Aspire 13 offers no way to turn that inheritance off. A secret given to the
/// AppHost as an environment variable (<c>Parameters__admin-token</c>, <c>ConnectionStrings__keysdb</c>) would so
/// reach the gateway, the demo upstream, Redis and Postgres, whatever the app model says.
/// </summary>
public static class InheritedEnvironment
{
    // Configuration sections whose values are secrets by what they are for; the AppHost hands each one on, as a
    // secret parameter or a connection string, to the resources that need it.
    private static readonly string[] SecretSections = ["Parameters", "ConnectionStrings", "AppHost"];

    // The dashboard's own credentials, which Aspire reads under these names. Whoever holds the browser token sees
    // every resource's environment.
    private static readonly string[] SecretNames =
    [
        "ASPIRE_DASHBOARD_FRONTEND_BROWSERTOKEN",
        "DOTNET_DASHBOARD_FRONTEND_BROWSERTOKEN",
        "ASPIRE_DASHBOARD_RESOURCESERVICE_APIKEY",
        "DOTNET_DASHBOARD_RESOURCESERVICE_APIKEY",
    ];

    /// <summary>
    /// Removes secret-bearing variables from this process's environment. Call it once configuration has been read (it
    /// keeps the values) and before the app starts, when DCP takes its copy. Returns the names it removed.
    /// </summary>
    public static IReadOnlyList<string> RemoveSecrets()
    {
        var removed = new List<string>();
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (IsSecret(name))
            {
                Environment.SetEnvironmentVariable(name, null);
                removed.Add(name);
            }
        }

        return removed;
    }

    /// <summary>True for a variable that carries a secret section of configuration or one of the dashboard's keys.</summary>
    public static bool IsSecret(string name) =>
        SecretNames.Contains(name, StringComparer.OrdinalIgnoreCase)
        || SecretSections.Any(section =>
            name.StartsWith(section + "__", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase));
}
