using System.Security.Claims;
using System.Text.Encodings.Web;
using Keys.AspNetCore.Validation;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Authentication;

public sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions;

/// <summary>
/// Authenticates a request by its <c>X-API-Key</c> (gRPC: <c>x-api-key</c>), exactly as the gateway checks it, and
/// answers refusals as the gateway does: the challenge writes the authentication's refusal (401, or 429/503), the
/// forbid the failed scope's (403), as JSON over HTTP and as a gRPC status with an <c>ErrorInfo</c> over gRPC.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyValidator validator) : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var feature = ApiKeyFeatureOf(Context);
        var presented = PresentedKey.From(Request.Headers);
        if (presented.ApiKey.Count == 0)
        {
            // No key: not this scheme's request. An endpoint that needs one challenges, and the challenge says to send it.
            return AuthenticateResult.NoResult();
        }

        var client = Context.Connection.RemoteIpAddress;
        var refusal = ApiKeyChecks.CheckPresented(presented, out var key, out var type);
        if (refusal is not null)
        {
            return Refused(feature, validator.Refuse(refusal, client));
        }

        var result = await validator.ValidateAsync(key, type, client, Context.RequestAborted);
        if (result.Key is not { } valid)
        {
            return Refused(feature, result.Refusal!);
        }

        feature.Key = valid;
        var principal = new ClaimsPrincipal(new ClaimsIdentity(valid.Claims, Scheme.Name, ApiKeyClaimTypes.KeyId, roleType: null));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var feature = ApiKeyFeatureOf(Context);
        return Answer(feature, feature.AuthenticationRefusal ?? ApiKeyRefusal.MissingKey);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var feature = ApiKeyFeatureOf(Context);
        return Answer(feature, feature.ScopeRefusal ?? ApiKeyRefusal.PermissionDenied);
    }

    internal static ApiKeyFeature ApiKeyFeatureOf(Microsoft.AspNetCore.Http.HttpContext context)
    {
        var feature = context.Features.Get<ApiKeyFeature>();
        if (feature is null)
        {
            feature = new ApiKeyFeature();
            context.Features.Set(feature);
        }

        return feature;
    }

    private static AuthenticateResult Refused(ApiKeyFeature feature, ApiKeyRefusal refusal)
    {
        feature.AuthenticationRefusal = refusal;
        // The code only: a failure message is logged, and nothing of the key may be.
        return AuthenticateResult.Fail(refusal.Error);
    }

    private Task Answer(ApiKeyFeature feature, ApiKeyRefusal refusal)
    {
        if (!feature.Counted)
        {
            feature.Counted = true;
            validator.Metrics.Checked(refusal);
        }

        return refusal.WriteAsync(Context);
    }
}
