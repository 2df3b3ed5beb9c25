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

public static class ApiKeyAuthorizationExtensions
{
    /// <summary>The caller must present an API key whose scopes allow <paramref name="scope"/> (<c>resource:operation</c>).</summary>
    public static AuthorizationPolicyBuilder RequireScope(this AuthorizationPolicyBuilder policy, string scope) =>
        policy.RequireScope(ScopeRequirement.Parse(scope));

    /// <summary>This endpoint needs an API key whose scopes allow <paramref name="scope"/> (<c>resource:operation</c>).</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder endpoint, string scope)
        where TBuilder : Microsoft.AspNetCore.Builder.IEndpointConventionBuilder
    {
        var requirement = ScopeRequirement.Parse(scope);
        return Microsoft.AspNetCore.Builder.AuthorizationEndpointConventionBuilderExtensions.RequireAuthorization(
            endpoint, policy => policy.RequireScope(requirement));
    }

    internal static AuthorizationPolicyBuilder RequireScope(this AuthorizationPolicyBuilder policy, ScopeRequirement requirement) =>
        policy.AddAuthenticationSchemes(ApiKeyDefaults.AuthenticationScheme)
            .RequireAuthenticatedUser()
            .AddRequirements(requirement);
}
