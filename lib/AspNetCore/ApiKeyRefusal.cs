using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Http;
using ErrorInfo = Google.Rpc.ErrorInfo;

namespace Keys.AspNetCore;

/// <summary>
/// A refusal of a request's API key, answered the same way wherever Keys checks keys: over HTTP as
/// <c>{"statusCode":…,"error":"CODE","message":"…"}</c>; over gRPC as a status (<c>UNAUTHENTICATED</c>,
/// <c>PERMISSION_DENIED</c>, …) whose <c>google.rpc.ErrorInfo</c> reason is the same code. Both forms are built once, so
/// that refusing garbage costs no serialization.
/// </summary>
public sealed class ApiKeyRefusal
{
    /// <summary>The <c>ErrorInfo</c> domain, KeyAdmin's too.</summary>
    public const string ErrorDomain = "keys.v1";

    public static readonly ApiKeyRefusal MissingKey = new(401, "UNAUTHORIZED", "Send your API key in the X-API-Key header.");
    public static readonly ApiKeyRefusal InvalidKey = new(401, "INVALID_TOKEN", "The API key is not valid. Check that you sent the whole key, as it was shown when it was created.");
    public static readonly ApiKeyRefusal AmbiguousKey = new(401, "INVALID_TOKEN", "Send exactly one X-API-Key header holding exactly one key.");
    public static readonly ApiKeyRefusal ExpiredKey = new(401, "TOKEN_EXPIRED", "The API key has expired. Create a new key in the API Keys console.");
    public static readonly ApiKeyRefusal RevokedKey = new(401, "TOKEN_REVOKED", "The API key has been deleted. Create a new key in the API Keys console.");
    public static readonly ApiKeyRefusal DisabledKey = new(401, "TOKEN_DISABLED", "The API key has been disabled. An operator can enable it again in the API Keys console.");
    public static readonly ApiKeyRefusal ScopeInsufficient = new(403, "SCOPE_INSUFFICIENT", "The key's scopes do not allow this operation on this resource.");
    public static readonly ApiKeyRefusal PublishableKeyReadOnly = new(403, "SCOPE_INSUFFICIENT", "A publishable key without scopes may only read. To write, create a key with scopes that allow it (e.g. orders:create).");
    public static readonly ApiKeyRefusal PermissionDenied = new(403, "PERMISSION_DENIED", "The key may not call this.");
    public static readonly ApiKeyRefusal SecretKeyInBrowser = new(403, "SECRET_KEY_IN_BROWSER", "Secret keys must never be used from a browser. Use a publishable key (pk_…) in browser and mobile apps.");
    public static readonly ApiKeyRefusal IpNotAllowed = new(403, "IP_NOT_ALLOWED", "The API key may not be used from this network address.");
    public static readonly ApiKeyRefusal OriginNotAllowed = new(403, "ORIGIN_NOT_ALLOWED", "The API key may not be used from this origin.");

    /// <summary>
    /// The key's rate limit is spent for the current window. Answered through <see cref="WithRateLimit"/>, which adds
    /// the window's Retry-After and the rate-limit headers to this prebuilt body and status.
    /// </summary>
    public static readonly ApiKeyRefusal RateLimited = new(429, "RATE_LIMITED", "The API key's rate limit is reached for now. Retry after the number of seconds in Retry-After.", retryAfterSeconds: 1);
    public static readonly ApiKeyRefusal ValidationUnavailable = new(503, "SERVICE_UNAVAILABLE", "API keys cannot be checked right now. Retry shortly.", retryAfterSeconds: 1);

    private readonly byte[] _body;
    private readonly string? _retryAfter;
    private readonly string _grpcStatus;
    private readonly string _grpcMessage;
    private readonly string _grpcDetails;
    private readonly string? _rateLimitPolicy;
    private readonly string? _rateLimit;

    public ApiKeyRefusal(int statusCode, string error, string message, int? retryAfterSeconds = null)
    {
        StatusCode = statusCode;
        Error = error;
        Message = message;
        _body = JsonSerializer.SerializeToUtf8Bytes(new Body(statusCode, error, message), RefusalJsonContext.Default.Body);
        _retryAfter = retryAfterSeconds?.ToString(CultureInfo.InvariantCulture);
        GrpcStatusCode = GrpcStatusFor(statusCode);
        _grpcStatus = ((int)GrpcStatusCode).ToString(CultureInfo.InvariantCulture);
        _grpcMessage = PercentEncode(message);
        _grpcDetails = Convert.ToBase64String(new Google.Rpc.Status
        {
            Code = (int)GrpcStatusCode,
            Message = message,
            Details = { Any.Pack(new ErrorInfo { Reason = error, Domain = ErrorDomain }) },
        }.ToByteArray());
    }

    // The same refusal with the headers of one answer: it shares the prebuilt body and gRPC status, so a 429 costs this
    // object and its header strings, no serialization.
    private ApiKeyRefusal(ApiKeyRefusal template, string retryAfter, string rateLimitPolicy, string rateLimit)
    {
        StatusCode = template.StatusCode;
        Error = template.Error;
        Message = template.Message;
        GrpcStatusCode = template.GrpcStatusCode;
        _body = template._body;
        _grpcStatus = template._grpcStatus;
        _grpcMessage = template._grpcMessage;
        _grpcDetails = template._grpcDetails;
        _retryAfter = retryAfter;
        _rateLimitPolicy = rateLimitPolicy;
        _rateLimit = rateLimit;
    }

    /// <summary>The 429 of the invalid-key throttle; Retry-After is the throttle's window.</summary>
    public static ApiKeyRefusal TooManyInvalidKeys(int retryAfterSeconds) =>
        new(429, "TOO_MANY_REQUESTS", "Too many invalid API keys from this address. Wait, then retry with a valid key.", retryAfterSeconds);

    /// <summary>The HTTP status.</summary>
    public int StatusCode { get; }

    /// <summary>The stable code: the JSON body's <c>error</c>, the gRPC <c>ErrorInfo</c>'s reason.</summary>
    public string Error { get; }

    public string Message { get; }

    public Grpc.Core.StatusCode GrpcStatusCode { get; }

    /// <summary>
    /// This refusal (<see cref="RateLimited"/>) as one request gets it: with <c>Retry-After</c>, and the
    /// <c>RateLimit-Policy</c> and <c>RateLimit</c> headers (draft-ietf-httpapi-ratelimit-headers), on HTTP and gRPC alike.
    /// </summary>
    public ApiKeyRefusal WithRateLimit(int retryAfterSeconds, string rateLimitPolicy, string rateLimit) =>
        new(this, Math.Max(1, retryAfterSeconds).ToString(CultureInfo.InvariantCulture), rateLimitPolicy, rateLimit);

    /// <summary>Answers the request: as gRPC when it is a gRPC call, as JSON otherwise.</summary>
    public Task WriteAsync(HttpContext context) =>
        IsGrpc(context.Request) ? WriteGrpc(context.Response) : WriteJsonAsync(context);

    /// <summary>The refusal as the JSON body of an HTTP answer.</summary>
    public Task WriteJsonAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCode;
        response.ContentType = "application/json";
        response.ContentLength = _body.Length;
        if (_retryAfter is not null)
        {
            response.Headers.RetryAfter = _retryAfter;
        }

        WriteHeaders(response.Headers);
        return response.Body.WriteAsync(_body, context.RequestAborted).AsTask();
    }

    public override string ToString() => Error;

    // A "trailers-only" response: HTTP 200 whose one header block carries the status, as gRPC servers answer a call
    // they refuse before running it. Clients in every language read the ErrorInfo from grpc-status-details-bin.
    private Task WriteGrpc(HttpResponse response)
    {
        response.StatusCode = 200;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = _grpcStatus;
        response.Headers["grpc-message"] = _grpcMessage;
        response.Headers["grpc-status-details-bin"] = _grpcDetails;
        WriteHeaders(response.Headers);
        return Task.CompletedTask;
    }

    // Retry-After goes over HTTP only (a gRPC client retries by its own policy, on the status); the rate-limit headers go
    // with both, since a gRPC client reads response headers as metadata, and RateLimit's t= says when to retry.
    private void WriteHeaders(IHeaderDictionary headers)
    {
        if (_rateLimitPolicy is not null)
        {
            headers[RateLimiting.RateLimitHeaders.PolicyHeader] = _rateLimitPolicy;
            headers[RateLimiting.RateLimitHeaders.RateLimitHeader] = _rateLimit;
        }
    }

    // gRPC runs over HTTP/2 (or 3) only: an HTTP/1.1 request that merely claims a gRPC content type gets the JSON
    // refusal and its 4xx status, never a 200 that a cache or a careless client could take for a success.
    private static bool IsGrpc(HttpRequest request) =>
        !HttpProtocol.IsHttp11(request.Protocol) && !HttpProtocol.IsHttp10(request.Protocol)
        && request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && !type.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase);

    private static Grpc.Core.StatusCode GrpcStatusFor(int statusCode) => statusCode switch
    {
        400 => Grpc.Core.StatusCode.InvalidArgument,
        401 => Grpc.Core.StatusCode.Unauthenticated,
        403 => Grpc.Core.StatusCode.PermissionDenied,
        429 => Grpc.Core.StatusCode.ResourceExhausted,
        503 => Grpc.Core.StatusCode.Unavailable,
        _ => Grpc.Core.StatusCode.Internal,
    };

    // grpc-message is percent-encoded UTF-8: printable ASCII other than '%' as is, every other byte as %XX.
    private static string PercentEncode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    internal sealed record Body(int StatusCode, string Error, string Message);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ApiKeyRefusal.Body))]
internal sealed partial class RefusalJsonContext : JsonSerializerContext;
