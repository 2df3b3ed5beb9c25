namespace Keys.AspNetCore.Authentication;

/// <summary>
/// A refused request's key check, kept on the request for the challenge or the forbid to answer with. A request whose
/// key passes has none: its key is on its <see cref="ApiKeyClaimsIdentity"/>.
/// </summary>
public sealed class ApiKeyFeature
{
    /// <summary>Why authentication failed; null when it passed or no key was sent.</summary>
    public ApiKeyRefusal? AuthenticationRefusal { get; set; }

    /// <summary>Why a scope requirement failed.</summary>
    public ApiKeyRefusal? ScopeRefusal { get; set; }

    /// <summary>The outcome has been counted (once per request).</summary>
    internal bool Counted { get; set; }
}
