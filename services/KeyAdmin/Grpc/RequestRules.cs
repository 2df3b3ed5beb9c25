using System.Text.RegularExpressions;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Keys.KeyAdmin.Data;

namespace Keys.KeyAdmin.Grpc;

/// <summary>What a well-formed management request looks like. Each rule fails with its own stable code.</summary>
public static partial class RequestRules
{
    public const int MaxNameLength = 64;
    public const int MaxScopes = 50;
    public const int MaxOperatorProjects = 100;

    /// <summary>Names audit rows give KeyAdmin's own credentials: an operator named so would pass for one of them.</summary>
    public static readonly string[] ReservedOperatorNames = [Caller.AdminToken.Name, Caller.Dashboard.Name];

    public static string ProjectName(string name)
    {
        var trimmed = name.Trim();
        if (trimmed.Length is 0 or > MaxNameLength || trimmed.Any(char.IsControl))
        {
            throw ApiErrors.InvalidArgument("INVALID_PROJECT_NAME", $"A project name is 1 to {MaxNameLength} characters.");
        }

        return trimmed;
    }

    public const int MaxGracePeriodSeconds = 30 * 24 * 60 * 60;
    public const int DefaultAuditLimit = 100;
    public const int MaxAuditLimit = 1000;

    public static string EnvironmentName(string name)
    {
        if (!ProjectStore.IsEnvironmentName(name))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_ENVIRONMENT_NAME",
                "An environment name is 1 to 32 characters: lowercase letters, digits and '-', starting with a letter or digit.");
        }

        return name;
    }

    public static TimeSpan GracePeriod(int seconds) => seconds is >= 0 and <= MaxGracePeriodSeconds
        ? TimeSpan.FromSeconds(seconds)
        : throw ApiErrors.InvalidArgument(
            "INVALID_GRACE_PERIOD", $"gracePeriodSeconds is from 0 (the old key stops now) to {MaxGracePeriodSeconds} (30 days).");

    public static int AuditLimit(int limit) => limit switch
    {
        0 => DefaultAuditLimit,
        > 0 and <= MaxAuditLimit => limit,
        _ => throw ApiErrors.InvalidArgument("INVALID_LIMIT", $"limit is from 1 to {MaxAuditLimit}."),
    };

    public static string ConfirmName(string confirmName) => string.IsNullOrEmpty(confirmName)
        ? throw ApiErrors.InvalidArgument("CONFIRM_NAME_REQUIRED", "Type the key's name as confirmName to delete it.")
        : confirmName;

    public static string KeyName(string name)
    {
        // A name is listed, logged and echoed in errors: an API key pasted into it would be all three.
        if (IsSecretLike(name))
        {
            throw ApiErrors.InvalidArgument("INVALID_KEY_NAME", "A key name must not be an API key. Name it after what uses it, such as my-app-key.");
        }

        if (!KeyNamePattern().IsMatch(name))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_KEY_NAME",
                $"A key name is 1 to {MaxNameLength} characters: letters, digits, '-', '_', '.', and spaces inside (not at either end).");
        }

        return name;
    }

    public static string OperatorName(string name)
    {
        if (IsSecretLike(name))
        {
            throw ApiErrors.InvalidArgument("INVALID_OPERATOR_NAME", "An operator name must not be a token or key. Name the person or job that holds it, such as ana or ci-deploy.");
        }

        if (!KeyNamePattern().IsMatch(name))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_OPERATOR_NAME",
                $"An operator name is 1 to {MaxNameLength} characters: letters, digits, '-', '_', '.', and spaces inside (not at either end).");
        }

        if (ReservedOperatorNames.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiErrors.InvalidArgument("INVALID_OPERATOR_NAME", $"'{name}' names one of KeyAdmin's own credentials in the audit log; choose another name.");
        }

        return name;
    }

    public static OperatorRole OperatorRole(string role) => OperatorRoles.TryParseName(role, out var parsed)
        ? parsed
        : throw ApiErrors.InvalidArgument("INVALID_ROLE", "A role is 'owner', 'editor' or 'viewer'.");

    /// <summary>The projects an operator's token is limited to; none: every project.</summary>
    public static string[] OperatorProjects(OperatorRole role, IReadOnlyCollection<string> projectIds)
    {
        if (projectIds.Count == 0)
        {
            return [];
        }

        if (role == Access.OperatorRole.Owner)
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_PROJECT_LIMIT",
                "An owner manages operators, who span projects, so an owner's token cannot be limited to projects; give the editor or viewer role instead.");
        }

        if (projectIds.Count > MaxOperatorProjects)
        {
            throw ApiErrors.InvalidArgument("INVALID_PROJECT_LIMIT", $"A token is limited to at most {MaxOperatorProjects} projects.");
        }

        var position = 0;
        foreach (var projectId in projectIds)
        {
            position++;
            if (!ResourceId.IsWellFormed(projectId, ResourceId.ProjectPrefix))
            {
                throw ApiErrors.InvalidArgument(
                    "INVALID_PROJECT_LIMIT", $"Project {position} of {projectIds.Count} is not a project ID: they look like prj_ and 22 letters and digits.");
            }
        }

        return projectIds.Distinct(StringComparer.Ordinal).ToArray();
    }

    public static Invalidation.CacheFlushTarget FlushTarget(string target) => target switch
    {
        Invalidation.CacheFlusher.KeyValidationTarget => Invalidation.CacheFlushTarget.KeyValidation,
        Invalidation.CacheFlusher.GatewaysTarget => Invalidation.CacheFlushTarget.Gateways,
        _ => throw ApiErrors.InvalidArgument("INVALID_FLUSH_TARGET", "A flush target is 'key-validation' or 'gateways'."),
    };

    public static ApiKeyType KeyType(string type) => ApiKeyTypes.TryParseName(type, out var parsed)
        ? parsed
        : throw ApiErrors.InvalidArgument("INVALID_KEY_TYPE", "A key type is 'publishable' or 'secret'.");

    public static string[] KeyScopes(IReadOnlyCollection<string> scopes)
    {
        if (scopes.Count > MaxScopes)
        {
            throw ApiErrors.InvalidArgument("INVALID_SCOPE", $"A key has at most {MaxScopes} scopes.");
        }

        var position = 0;
        foreach (var scope in scopes)
        {
            position++;
            if (!Scopes.IsValid(scope))
            {
                // By position, never by value: error messages are logged, and a pasted key must not be.
                throw ApiErrors.InvalidArgument(
                    "INVALID_SCOPE",
                    $"Scope {position} of {scopes.Count} is not of the form '{{resource}}:{{operation}}', where resource is a name or '*' and operation is read, create, update, delete or '*'.");
            }
        }

        return scopes.Distinct(StringComparer.Ordinal).ToArray();
    }

    public static DateTime? ExpiresAt(Google.Protobuf.WellKnownTypes.Timestamp? expiresAt, DateTimeOffset now)
    {
        if (expiresAt is null)
        {
            return null;
        }

        var value = expiresAt.ToDateTime();
        if (value <= now.UtcDateTime)
        {
            throw ApiErrors.InvalidArgument("INVALID_EXPIRY", "expiresAt must be in the future.");
        }

        return value;
    }

    private static bool IsSecretLike(string value) => KeyString.IsWellFormed(value) || OperatorToken.IsWellFormed(value);

    [GeneratedRegex(@"^[A-Za-z0-9_.\-](?:[A-Za-z0-9_.\- ]{0,62}[A-Za-z0-9_.\-])?\z")]
    private static partial Regex KeyNamePattern();
}
