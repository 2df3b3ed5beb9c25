using Keys.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization;

namespace Keys.AspNetCore;

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
