using Keys.AspNetCore;

namespace Keys.Gateway.Authentication;

/// <summary>
/// The refusals only a gateway gives: they concern its routes. Every other refusal is <see cref="ApiKeyRefusal"/>'s,
/// the same wherever Keys checks keys.
/// </summary>
public static class GatewayRefusals
{
    public static readonly ApiKeyRefusal SecretKeyRequired = new(403, "PERMISSION_DENIED", "This route accepts only secret keys; a publishable key cannot call it.");
    public static readonly ApiKeyRefusal PublishableKeyRequired = new(403, "PERMISSION_DENIED", "This route accepts only publishable keys.");
    public static readonly ApiKeyRefusal RouteNamesNoScope = new(403, "SCOPE_INSUFFICIENT", "This route does not say which scope it needs, so only keys without scopes may call it.");
    public static readonly ApiKeyRefusal InvalidPath = new(400, "INVALID_PATH", "The path holds an encoded '/' or '\\' (%2F, %5C) or a raw '\\', which servers behind the gateway may read differently. Send '/' only as a separator.");
}
