using System.Globalization;
using System.Text.Json.Nodes;

namespace Keys.KeyAdmin.Data;

/// <summary>
/// What an update changed, field by field, for <see cref="KeyStore.UpdateKeyAsync"/> (whether anything did) and for its
/// audit event's detail: <c>{"before":{…},"after":{…}}</c> with the changed fields only, by their API names. A key's
/// fields hold no secret material (its hash and value are not among them), so the detail may show them all.
/// </summary>
public static class KeyDiff
{
    public static bool Same(KeyField field, KeyRow before, KeyRow after) => field switch
    {
        KeyField.Name => before.Name == after.Name,
        KeyField.Scopes => before.Scopes.SequenceEqual(after.Scopes),
        KeyField.ExpiresAt => before.ExpiresAt == after.ExpiresAt,
        KeyField.Enabled => before.Enabled == after.Enabled,
        KeyField.RateLimit => before.RateLimit == after.RateLimit,
        KeyField.AllowedCidrs => (before.AllowedCidrs ?? []).SequenceEqual(after.AllowedCidrs ?? []),
        KeyField.AllowedOrigins => (before.AllowedOrigins ?? []).SequenceEqual(after.AllowedOrigins ?? []),
        // Both as Postgres prints jsonb: one spelling for one value, whatever order the keys were sent in.
        KeyField.Metadata => before.Metadata == after.Metadata,
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    public static string Detail(IEnumerable<KeyField> changed, KeyRow before, KeyRow after)
    {
        var fields = changed.ToList();
        return Detail(fields.Select(f => (NameOf(f), ValueOf(f, before), ValueOf(f, after))));
    }

    /// <summary>The detail of a change of named fields, each with its value before and after.</summary>
    public static string Detail(IEnumerable<(string Name, JsonNode? Before, JsonNode? After)> fields)
    {
        var before = new JsonObject();
        var after = new JsonObject();
        foreach (var (name, was, now) in fields)
        {
            before[name] = was;
            after[name] = now;
        }

        return new JsonObject { ["before"] = before, ["after"] = after }.ToJsonString();
    }

    public static JsonNode? ToJson(RateLimitSetting? rateLimit) => rateLimit is null
        ? null
        : new JsonObject { ["limit"] = rateLimit.Limit, ["windowSeconds"] = rateLimit.WindowSeconds, ["mode"] = rateLimit.Mode };

    public static string NameOf(KeyField field) => field switch
    {
        KeyField.Name => "name",
        KeyField.Scopes => "scopes",
        KeyField.ExpiresAt => "expiresAt",
        KeyField.Enabled => "enabled",
        KeyField.RateLimit => "rateLimit",
        KeyField.AllowedCidrs => "allowedCidrs",
        KeyField.AllowedOrigins => "allowedOrigins",
        KeyField.Metadata => "metadata",
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    private static JsonNode? ValueOf(KeyField field, KeyRow key) => field switch
    {
        KeyField.Name => key.Name,
        KeyField.Scopes => Array(key.Scopes),
        KeyField.ExpiresAt => key.ExpiresAt is { } at ? at.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", CultureInfo.InvariantCulture) : null,
        KeyField.Enabled => key.Enabled,
        KeyField.RateLimit => ToJson(key.RateLimit),
        KeyField.AllowedCidrs => Array(key.AllowedCidrs ?? []),
        KeyField.AllowedOrigins => Array(key.AllowedOrigins ?? []),
        KeyField.Metadata => key.Metadata is null ? null : JsonNode.Parse(key.Metadata),
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    private static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)v)]);
}

/// <summary>A project's limit on how long its secret keys may live (<c>max_secret_key_lifetime_days</c>).</summary>
public static class LifetimePolicy
{
    public const int MaxDays = 3650;

    /// <summary>
    /// Refuses a secret key's expiry that breaks the project's policy of <paramref name="maxLifetimeDays"/> (null: no
    /// policy): none at all, or later than that many days after <paramref name="now"/>. Publishable keys are exempt.
    /// </summary>
    public static void Check(string projectId, int? maxLifetimeDays, DateTime now, Keys.ApiKeys.ApiKeyType type, DateTime? expiresAt)
    {
        if (type != Keys.ApiKeys.ApiKeyType.Secret || maxLifetimeDays is not { } days)
        {
            return;
        }

        if (expiresAt is not { } expiry)
        {
            throw KeyAdminException.ExpiryRequired(projectId, days);
        }

        var latest = now.AddDays(days);
        if (expiry > latest)
        {
            throw KeyAdminException.ExpiryTooLong(projectId, days, latest);
        }
    }
}
