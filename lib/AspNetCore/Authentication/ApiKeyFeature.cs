using Keys.AspNetCore.Caching;

namespace Keys.AspNetCore.Authentication;

/// <summary>
/// The request's key check, kept on the request: the key found valid, and the refusal the challenge or the forbid
/// answers with.
/// </summary>
public sealed class ApiKeyFeature
{
    public ValidatedApiKey? Key { get; set; }

    /// <summary>Why authentication failed; null when it passed or no key was sent.</summary>
    public ApiKeyRefusal? AuthenticationRefusal { get; set; }

    /// <summary>Why a scope requirement failed.</summary>
    public ApiKeyRefusal? ScopeRefusal { get; set; }

    /// <summary>The outcome has been counted (once per request).</summary>
    internal bool Counted { get; set; }
}
