using System.Text.Json;

namespace Keys.Gateway.Authentication;

/// <summary>
/// A rejection the gateway answers itself: <c>{"statusCode":…,"error":"CODE","message":"…"}</c>. Bodies are built once
/// so that rejecting garbage costs no serialization.
/// </summary>
public sealed class ErrorResponse
{
    public static readonly ErrorResponse MissingKey = new(401, "UNAUTHORIZED", "Send your API key in the X-API-Key header.");
    public static readonly ErrorResponse InvalidKey = new(401, "INVALID_TOKEN", "The API key is not valid. Check that you sent the whole key, as it was shown when it was created.");
    public static readonly ErrorResponse AmbiguousKey = new(401, "INVALID_TOKEN", "Send exactly one X-API-Key header holding exactly one key.");
    public static readonly ErrorResponse ExpiredKey = new(401, "TOKEN_EXPIRED", "The API key has expired. Create a new key in the API Keys console.");
    public static readonly ErrorResponse RevokedKey = new(401, "TOKEN_REVOKED", "The API key has been deleted. Create a new key in the API Keys console.");
    public static readonly ErrorResponse SecretKeyRequired = new(403, "PERMISSION_DENIED", "This route accepts only secret keys; a publishable key cannot call it.");
    public static readonly ErrorResponse PublishableKeyRequired = new(403, "PERMISSION_DENIED", "This route accepts only publishable keys.");
    public static readonly ErrorResponse ScopeInsufficient = new(403, "SCOPE_INSUFFICIENT", "The key's scopes do not allow this operation on this resource.");
    public static readonly ErrorResponse PublishableKeyReadOnly = new(403, "SCOPE_INSUFFICIENT", "A publishable key without scopes may only read. To write, create a key with scopes that allow it (e.g. orders:create).");
    public static readonly ErrorResponse RouteNamesNoScope = new(403, "SCOPE_INSUFFICIENT", "This route does not say which scope it needs, so only keys without scopes may call it.");
    public static readonly ErrorResponse InvalidPath = new(400, "INVALID_PATH", "The path holds an encoded '/' or '\\' (%2F, %5C) or a raw '\\', which servers behind the gateway may read differently. Send '/' only as a separator.");
    public static readonly ErrorResponse SecretKeyInBrowser = new(403, "SECRET_KEY_IN_BROWSER", "Secret keys must never be used from a browser. Use a publishable key (pk_…) in browser and mobile apps.");
    public static readonly ErrorResponse ValidationUnavailable = new(503, "SERVICE_UNAVAILABLE", "API keys cannot be checked right now. Retry shortly.", retryAfterSeconds: 1);

    /// <summary>The 429 of the invalid-key throttle; Retry-After is the throttle's window.</summary>
    public static ErrorResponse TooManyInvalidKeys(int retryAfterSeconds) =>
        new(429, "TOO_MANY_REQUESTS", "Too many invalid API keys from this address. Wait, then retry with a valid key.", retryAfterSeconds);

    private readonly byte[] _body;
    private readonly string? _retryAfter;

    private ErrorResponse(int statusCode, string error, string message, int? retryAfterSeconds = null)
    {
        StatusCode = statusCode;
        Error = error;
        _body = JsonSerializer.SerializeToUtf8Bytes(new Body(statusCode, error, message), BodyJsonContext.Default.Body);
        _retryAfter = retryAfterSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public int StatusCode { get; }

    public string Error { get; }

    public Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCode;
        response.ContentType = "application/json";
        response.ContentLength = _body.Length;
        if (_retryAfter is not null)
        {
            response.Headers.RetryAfter = _retryAfter;
        }

        return response.Body.WriteAsync(_body, context.RequestAborted).AsTask();
    }

    internal sealed record Body(int StatusCode, string Error, string Message);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ErrorResponse.Body))]
internal sealed partial class BodyJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
