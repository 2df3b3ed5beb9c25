using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keys.AppHost.Infrastructure;

public static class AdminTokenExtensions
{
    public const string ParameterName = "admin-token";

    public const string ParameterConfigKey = $"Parameters:{ParameterName}";

    /// <summary>A file that holds the operator token, for a token chosen without putting it in anyone's environment.</summary>
    public const string TokenFileConfigKey = "Keys:AdminTokenFile";

    /// <summary>Shorter tokens are refused: KeyAdmin's <c>KeyAdmin:AdminToken</c> requires the same.</summary>
    public const int MinimumLength = 32;

    /// <summary>
    /// The operator token (secret parameter <c>admin-token</c>), from the first of: the parameter itself
    /// (<c>Parameters:admin-token</c>), the file that <c>Keys:AdminTokenFile</c> names, the data directory's
    /// <c>admin-token</c> file, generated there on the first run. The AppHost says where it came from: never the value.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddAdminToken(this IDistributedApplicationBuilder builder, KeysSettings settings)
    {
        var (token, source) = Resolve(builder.Configuration, settings);
        if (token is not null)
        {
            EnsureLongEnough(token, source);
            builder.Configuration[ParameterConfigKey] = token;
        }

        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Keys")
                .LogInformation("Operator token for KeyAdmin and the console: {TokenSource}", source);
            return Task.CompletedTask;
        });

        return builder.AddParameter(ParameterName, secret: true);
    }

    /// <summary>Refuses a token shorter than <see cref="MinimumLength"/>, saying where it came from, not what it is.</summary>
    public static void EnsureLongEnough(string token, string source)
    {
        if (token.Length < MinimumLength)
        {
            throw new InvalidOperationException(
                $"The operator token ({source}) has {token.Length} characters; it must have at least {MinimumLength}. " +
                "Choose a longer one, e.g. the output of 'openssl rand -hex 32'.");
        }
    }

    private static (string? Token, string Source) Resolve(IConfiguration configuration, KeysSettings settings)
    {
        if (configuration[ParameterConfigKey] is { } configured && !string.IsNullOrWhiteSpace(configured))
        {
            return (configured, $"the parameter {ParameterConfigKey}");
        }

        if (configuration[TokenFileConfigKey] is { Length: > 0 } file)
        {
            return (ReadTokenFile(Path.GetFullPath(file)), $"cat {Path.GetFullPath(file)}");
        }

        if (OperatingSystem.IsWindows())
        {
            // Left to Aspire, which asks for a missing parameter.
            return (null, $"the parameter {ParameterConfigKey}");
        }

        var tokenFile = Path.Combine(settings.DataDirectory, ParameterName);
        return (LocalSecrets.GetOrCreate(tokenFile), $"cat {tokenFile}");
    }

    // The operator's own file: read, never created or rewritten; like ssh with a private key, one that other users
    // could read is refused rather than quietly used.
    private static string ReadTokenFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{TokenFileConfigKey} names {path}, which does not exist.");
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
            {
                throw new InvalidOperationException(
                    $"{TokenFileConfigKey} names {path}, which other users can read: 'chmod 600 {path}' first.");
            }
        }

        var token = File.ReadAllText(path).Trim();
        return token.Length > 0 ? token : throw new InvalidOperationException($"{TokenFileConfigKey} names {path}, which is empty.");
    }
}
