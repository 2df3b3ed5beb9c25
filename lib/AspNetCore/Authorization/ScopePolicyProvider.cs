using System.Collections.Concurrent;
using Keys.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Authorization;

/// <summary>
/// Any policy name that is a scope (<c>[Authorize(Policy = "orders:read")]</c>) is that scope's policy, without
/// registering it; other names are the application's own policies.
/// </summary>
internal sealed class ScopePolicyProvider(IOptions<AuthorizationOptions> options) : DefaultAuthorizationPolicyProvider(options)
{
    // Policy names come from the application's attributes, never from requests: a handful, built once each.
    private readonly ConcurrentDictionary<string, AuthorizationPolicy?> _scopes = new(StringComparer.Ordinal);

    // A name always gives the same policy, so the authorization middleware may keep each endpoint's combined policy
    // instead of combining it on every request (the base class allows that for its own type only).
    public override bool AllowsCachingPolicies => true;

    public override async Task<AuthorizationPolicy?> GetPolicyAsync(string policyName) =>
        await base.GetPolicyAsync(policyName)
        ?? _scopes.GetOrAdd(policyName, static name => ScopeRequirement.TryParse(name, out var requirement)
            ? new AuthorizationPolicyBuilder().RequireScope(requirement).Build()
            : null);
}

/// <summary>Counts the requests whose key passed authorization; refusals are counted where they are answered.</summary>
internal sealed class ApiKeyAuthorizationResultHandler(Diagnostics.ApiKeyMetrics metrics) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded && context.Features.Get<ApiKeyFeature>() is { Key: not null, Counted: false } feature)
        {
            feature.Counted = true;
            metrics.Checked(null);
        }

        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
