using System.Security.Claims;
using Keys.AspNetCore.Validation;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace Keys.AspNetCore.Authentication;

/// <summary>
/// Authenticates a request by its <c>X-API-Key</c> (gRPC: <c>x-api-key</c>), exactly as the gateway checks it (format,
/// near cache or lookup, revocation, expiry, disabled, then the key's allowed networks and origins), and answers
/// refusals as the gateway does: the challenge writes the authentication's refusal (401, 403 for an address or origin
/// the key does not allow, or 429/503), the forbid the failed scope's (403), as JSON over HTTP and as a gRPC status
/// with an <c>ErrorInfo</c> over gRPC. Rate limits are counted once the request is authorized
/// (<c>ApiKeyAuthorizationResultHandler</c>).
/// </summary>
/// <remarks>
/// A plain <see cref="IAuthenticationHandler"/> rather than an <see cref="AuthenticationHandler{TOptions}"/>: that base
/// creates a logger, resolves options and events for every request, which costs more than checking a cached key. One
/// instance serves one request (the handler provider keeps it), so the outcome is kept here: authenticating again
/// (authorization does, for policies that name the scheme) looks nothing up twice.
/// </remarks>
public sealed class ApiKeyAuthenticationHandler(ApiKeyValidator validator) : IAuthenticationHandler
{
    private static readonly Task<AuthenticateResult> NoKey = Task.FromResult(AuthenticateResult.NoResult());

    private AuthenticationScheme _scheme = null!;
    private HttpContext _context = null!;
    private Task<AuthenticateResult>? _authentication;

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        _scheme = scheme;
        _context = context;
        return Task.CompletedTask;
    }

    public Task<AuthenticateResult> AuthenticateAsync() => _authentication ??= AuthenticateOnceAsync();

    public Task ChallengeAsync(AuthenticationProperties? properties)
    {
        var feature = ApiKeyFeatureOf(_context);
        return Answer(feature, feature.AuthenticationRefusal ?? ApiKeyRefusal.MissingKey);
    }

    public Task ForbidAsync(AuthenticationProperties? properties)
    {
        var feature = ApiKeyFeatureOf(_context);
        return Answer(feature, feature.ScopeRefusal ?? ApiKeyRefusal.PermissionDenied);
    }

    internal static ApiKeyFeature ApiKeyFeatureOf(HttpContext context)
    {
        var feature = context.Features.Get<ApiKeyFeature>();
        if (feature is null)
        {
            feature = new ApiKeyFeature();
            context.Features.Set(feature);
        }

        return feature;
    }

    private Task<AuthenticateResult> AuthenticateOnceAsync()
    {
        var presented = PresentedKey.From(_context.Request.Headers);
        if (presented.ApiKey.Count == 0)
        {
            // No key: not this scheme's request. An endpoint that needs one challenges, and the challenge says to send it.
            return NoKey;
        }

        var client = _context.Connection.RemoteIpAddress;
        var refusal = ApiKeyChecks.CheckPresented(presented, out var key, out var type);
        if (refusal is not null)
        {
            return Task.FromResult(Refused(validator.Refuse(refusal, client)));
        }

        var check = validator.ValidateAsync(key, type, client, _context.RequestAborted);
        return check.IsCompletedSuccessfully ? Task.FromResult(Result(check.Result)) : AwaitAsync(check);
    }

    private async Task<AuthenticateResult> AwaitAsync(ValueTask<ApiKeyResult> check) => Result(await check);

    private AuthenticateResult Result(ApiKeyResult result)
    {
        if (result.Key is not { } valid)
        {
            return Refused(result.Refusal!);
        }

        // A valid key used from somewhere it may not be: its networks, its origins.
        if (ApiKeyChecks.CheckClient(valid, _context.Connection.RemoteIpAddress, _context.Request.Headers.Origin) is { } refusal)
        {
            return Refused(refusal);
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ApiKeyClaimsIdentity(valid, _scheme.Name)), _scheme.Name));
    }

    private AuthenticateResult Refused(ApiKeyRefusal refusal)
    {
        ApiKeyFeatureOf(_context).AuthenticationRefusal = refusal;
        // The code only: a failure message may be logged, and nothing of the key may be.
        return AuthenticateResult.Fail(refusal.Error);
    }

    private Task Answer(ApiKeyFeature feature, ApiKeyRefusal refusal)
    {
        if (!feature.Counted)
        {
            feature.Counted = true;
            validator.Metrics.Checked(refusal);
        }

        return refusal.WriteAsync(_context);
    }
}
