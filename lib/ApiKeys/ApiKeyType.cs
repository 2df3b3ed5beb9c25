namespace Keys.ApiKeys;

/// <summary>The two kinds of key a product team issues.</summary>
public enum ApiKeyType
{
    /// <summary><c>pk_…</c>: for browsers and mobile apps, limited permissions, always visible.</summary>
    Publishable = 1,

    /// <summary><c>sk_…</c>: server-side only, full permissions, shown once.</summary>
    Secret = 2,
}

public static class ApiKeyTypes
{
    public const string PublishableName = "publishable";
    public const string SecretName = "secret";

    public static string ToName(this ApiKeyType type) => type switch
    {
        ApiKeyType.Publishable => PublishableName,
        ApiKeyType.Secret => SecretName,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static bool TryParseName(string? name, out ApiKeyType type)
    {
        switch (name)
        {
            case PublishableName:
                type = ApiKeyType.Publishable;
                return true;
            case SecretName:
                type = ApiKeyType.Secret;
                return true;
            default:
                type = default;
                return false;
        }
    }
}
