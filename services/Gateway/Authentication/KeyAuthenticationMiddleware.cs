using Grpc.Core;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Runs in YARP's pipeline, after the route is chosen and before the request is proxied. It checks <c>X-API-Key</c>
/// against the route's policy and replaces whatever identity headers the client sent with the ones the key proves.
/// </summary>
public sealed class KeyAuthenticationMiddleware(
    V1.KeyValidation.KeyValidationClient validation,
    IOptions<GatewayOptions> options) : IMiddleware
{
    public const string ApiKeyHeader = "X-API-Key";
    public const string KeyIdHeader = "X-Key-Id";
    public const string KeyTypeHeader = "X-Key-Type";
    public const string ProjectIdHeader = "X-Project-Id";
    public const string EnvironmentHeader = "X-Environment";
    public const string KeyScopesHeader = "X-Key-Scopes";

    private readonly TimeSpan _timeout = options.Value.ValidationTimeout;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Request.Headers;
        var presented = headers[ApiKeyHeader];

        // Identity headers are the gateway's word, never the client's; the key itself never goes upstream.
        headers.Remove(ApiKeyHeader);
        headers.Remove(KeyIdHeader);
        headers.Remove(KeyTypeHeader);
        headers.Remove(ProjectIdHeader);
        headers.Remove(EnvironmentHeader);
        headers.Remove(KeyScopesHeader);

        var policy = RoutePolicy.For(context.GetReverseProxyFeature().Route.Config);
        if (!policy.RequiresKey)
        {
            await next(context);
            return;
        }

        var rejection = Precheck(presented, out var key, out var type);
        if (rejection is null && !policy.Accepts(type))
        {
            rejection = type == ApiKeyType.Publishable ? ErrorResponse.SecretKeyRequired : ErrorResponse.PublishableKeyRequired;
        }

        if (rejection is not null)
        {
            await rejection.WriteAsync(context);
            return;
        }

        ValidateResponse result;
        try
        {
            result = await validation.ValidateAsync(
                new ValidateRequest { Key = key },
                deadline: DateTime.UtcNow + _timeout,
                cancellationToken: context.RequestAborted);
        }
        catch (RpcException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // Fail closed, and say so: a dependency failure is never a pass, nor a 401 that blames a good key.
            await ErrorResponse.ValidationUnavailable.WriteAsync(context);
            return;
        }

        switch (result.Outcome)
        {
            case ValidationOutcome.Valid:
                headers[KeyIdHeader] = result.KeyId;
                headers[KeyTypeHeader] = type.ToName();
                headers[ProjectIdHeader] = result.ProjectId;
                headers[EnvironmentHeader] = result.Environment;
                headers[KeyScopesHeader] = string.Join(',', result.Scopes);
                await next(context);
                return;
            case ValidationOutcome.Expired:
                await ErrorResponse.ExpiredKey.WriteAsync(context);
                return;
            case ValidationOutcome.Revoked:
                await ErrorResponse.RevokedKey.WriteAsync(context);
                return;
            default:
                await ErrorResponse.InvalidKey.WriteAsync(context);
                return;
        }
    }

    /// <summary>Everything that can be decided from the header alone: presence, uniqueness, format and checksum.</summary>
    private static ErrorResponse? Precheck(StringValues presented, out string key, out ApiKeyType type)
    {
        key = "";
        type = default;
        if (presented.Count == 0 || (presented.Count == 1 && string.IsNullOrWhiteSpace(presented[0])))
        {
            return ErrorResponse.MissingKey;
        }

        if (presented.Count > 1 || presented[0]!.Contains(','))
        {
            return ErrorResponse.AmbiguousKey;
        }

        key = presented[0]!;
        return KeyString.TryParse(key, out type) ? null : ErrorResponse.InvalidKey;
    }
}
