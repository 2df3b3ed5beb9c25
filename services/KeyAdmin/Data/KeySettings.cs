namespace Keys.KeyAdmin.Data;

/// <summary>At most <see cref="Limit"/> requests per fixed window of <see cref="WindowSeconds"/>, counted per <see cref="Mode"/>.</summary>
public sealed record RateLimitSetting(long Limit, int WindowSeconds, string Mode)
{
    public const string Local = "local";
    public const string Global = "global";
}

/// <summary>What a key's <c>status</c> says, worked out from its row by <see cref="KeyStore.StatusSql"/>.</summary>
public static class KeyStatus
{
    public const string Active = "active";
    public const string Disabled = "disabled";
    public const string Expired = "expired";
    public const string Rolling = "rolling";

    /// <summary>Deleted, or rolled and past its grace period: it no longer works and is not listed (FindKey only).</summary>
    public const string Deleted = "deleted";

    /// <summary>What ListKeys may filter on: a listed key is never deleted.</summary>
    public static readonly string[] Listable = [Active, Disabled, Expired, Rolling];
}

/// <summary>The fields of a key that an update may change, one per field of <c>keys.v1.KeyUpdate</c>.</summary>
public enum KeyField
{
    Name,
    Scopes,
    ExpiresAt,
    Enabled,
    RateLimit,
    AllowedCidrs,
    AllowedOrigins,
    Metadata,
}

/// <summary>The fields of a project that an update may change, one per field of <c>keys.v1.ProjectUpdate</c>.</summary>
public enum ProjectField
{
    Name,
    DefaultRateLimit,
    MaxSecretKeyLifetimeDays,
}

/// <summary>
/// A key update: the fields in <see cref="Fields"/> take the values here (null clears), every other field stays as it
/// is. The values are already checked, except what depends on the key itself (its type, its project's policy).
/// </summary>
public sealed record KeyChanges(
    IReadOnlySet<KeyField> Fields,
    string Name = "",
    string[]? Scopes = null,
    DateTime? ExpiresAt = null,
    bool Enabled = false,
    RateLimitSetting? RateLimit = null,
    string[]? AllowedCidrs = null,
    string[]? AllowedOrigins = null,
    string? Metadata = null)
{
    /// <summary>What validation sees of a key: a change to any of these must reach every cache.</summary>
    public static readonly KeyField[] SeenByValidation =
        [KeyField.Scopes, KeyField.ExpiresAt, KeyField.Enabled, KeyField.RateLimit, KeyField.AllowedCidrs, KeyField.AllowedOrigins];
}

/// <summary>A project update, as <see cref="KeyChanges"/> is for keys; a lifetime of null clears the policy.</summary>
public sealed record ProjectChanges(
    IReadOnlySet<ProjectField> Fields,
    string Name = "",
    RateLimitSetting? DefaultRateLimit = null,
    int? MaxSecretKeyLifetimeDays = null);
