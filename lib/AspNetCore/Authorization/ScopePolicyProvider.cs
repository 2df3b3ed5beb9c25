using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Authorization;

/// <summary>
/// Any policy name that is a scope (<c>[Authorize(Policy = "orders:read")]</c>) is that scope's policy, without
/// registering it; other names are the application's own policies.
/// </summary>
internal sealed class ScopePolicyProvider(IOptions<AuthorizationOptions> options, IOptions<AuthenticationOptions> authentication)
    : DefaultAuthorizationPolicyProvider(options)
{
    // When API keys are the default scheme, the authentication middleware has already authenticated the request with
    // it: a policy that named the scheme would make authorization authenticate again and merge the principals.
    private readonly bool _keysAreDefault =
        (authentication.Value.DefaultAuthenticateScheme ?? authentication.Value.DefaultScheme) == ApiKeyDefaults.AuthenticationScheme;

    // Policy names come from the application's attributes, never from requests: a handful, built once each.
    private readonly ConcurrentDictionary<string, AuthorizationPolicy?> _scopes = new(StringComparer.Ordinal);

    // A name always gives the same policy, so the authorization middleware may keep each endpoint's combined policy
    // instead of combining it on every request (the base class allows that for its own type only).
    public override bool AllowsCachingPolicies => true;

    public override async Task<AuthorizationPolicy?> GetPolicyAsync(string policyName) =>
        await base.GetPolicyAsync(policyName)
        ?? _scopes.GetOrAdd(policyName, static (name, keysAreDefault) => ScopeRequirement.TryParse(name, out var requirement)
            ? new AuthorizationPolicyBuilder().RequireScope(requirement, nameTheScheme: !keysAreDefault).Build()
            : null, _keysAreDefault);
}

/// <summary>
/// Where a request whose key passed authorization is counted against the key's rate limit (after validity, the
/// allowlists and the scopes: a refused request spends nothing), and counted as <c>ok</c>; refusals are counted where
/// they are answered. A rate-limited key's answer carries <c>RateLimit-Policy</c> and <c>RateLimit</c>, as HTTP
/// headers or gRPC response metadata; past the limit the request is answered 429 <c>RATE_LIMITED</c> here.
/// </summary>
internal sealed class ApiKeyAuthorizationResultHandler(Diagnostics.ApiKeyMetrics metrics, RateLimiting.ApiKeyRateLimiter limiter)
    : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        // Called once per request that reaches authorization; refusals are counted by the challenge or the forbid.
        if (!authorizeResult.Succeeded || ApiKeyPrincipalExtensions.ValidatedKeyOf(context.User) is not { } key)
        {
            return _default.HandleAsync(next, context, policy, authorizeResult);
        }

        if (key.RateLimit is null)
        {
            metrics.Checked(null);
            return _default.HandleAsync(next, context, policy, authorizeResult);
        }

        var decision = limiter.AcquireAsync(key, context.RequestAborted);
        return decision.IsCompletedSuccessfully
            ? Answer(decision.Result, next, context, policy, authorizeResult)
            : AnswerAsync(decision, next, context, policy, authorizeResult);
    }

    private async Task AnswerAsync(
        ValueTask<RateLimiting.RateLimitDecision> decision, RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result) =>
        await Answer(await decision, next, context, policy, result);

    private Task Answer(
        RateLimiting.RateLimitDecision decision, RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        // Neither a challenge nor a forbid follows: the request is counted here, once.
        metrics.Checked(decision.Refusal);
        if (decision.Refusal is { } refusal)
        {
            return refusal.WriteAsync(context);
        }

        decision.WriteHeaders(context.Response.Headers);
        return _default.HandleAsync(next, context, policy, result);
    }
}
