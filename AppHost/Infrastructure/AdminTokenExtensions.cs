using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keys.AppHost.Infrastructure;

public static class AdminTokenExtensions
{
    public const string ParameterName = "admin-token";

    /// <summary>
    /// The operator token (secret parameter <c>admin-token</c>: config <c>Parameters:admin-token</c>). When none is
    /// configured, one is generated once into the data directory, and the AppHost says where it is: never the value.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddAdminToken(this IDistributedApplicationBuilder builder, KeysSettings settings)
    {
        var configKey = $"Parameters:{ParameterName}";
        if (string.IsNullOrWhiteSpace(builder.Configuration[configKey]) && !OperatingSystem.IsWindows())
        {
            var tokenFile = Path.Combine(settings.DataDirectory, ParameterName);
            builder.Configuration[configKey] = LocalSecrets.GetOrCreate(tokenFile);
            builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
            {
                @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Keys")
                    .LogInformation("Operator token for KeyAdmin and the console: cat {TokenFile}", tokenFile);
                return Task.CompletedTask;
            });
        }

        return builder.AddParameter(ParameterName, secret: true);
    }
}
