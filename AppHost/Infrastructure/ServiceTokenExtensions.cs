namespace Keys.AppHost.Infrastructure;

public static class ServiceTokenExtensions
{
    /// <summary>
    /// A service credential: a secret parameter, so the dashboard masks it. Unless configured
    /// (<c>Parameters:&lt;name&gt;</c>), a new random one is made each time the AppHost starts: every service starts with
    /// it, so nothing needs to survive a restart, and restarting the AppHost rotates every service credential.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddServiceToken(this IDistributedApplicationBuilder builder, string name)
    {
        var configKey = $"Parameters:{name}";
        if (string.IsNullOrWhiteSpace(builder.Configuration[configKey]))
        {
            builder.Configuration[configKey] = RandomSecret.Create(48);
        }

        return builder.AddParameter(name, secret: true);
    }
}
