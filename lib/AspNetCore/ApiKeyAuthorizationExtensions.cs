using Keys.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization;

namespace Keys.AspNetCore;

public static class ApiKeyAuthorizationExtensions
{
    /// <summary>The caller must present an API key whose scopes allow <paramref name="scope"/> (<c>resource:operation</c>).</summary>
    public static AuthorizationPolicyBuilder RequireScope(this AuthorizationPolicyBuilder policy, string scope) =>
        policy.RequireScope(ScopeRequirement.Parse(scope));

    /// <summary>
    /// This endpoint needs an API key whose scopes allow <paramref name="scope"/> (<c>resource:operation</c>): the
    /// policy of that name, as <c>[Authorize(Policy = "orders:read")]</c> names it.
    /// </summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder endpoint, string scope)
        where TBuilder : Microsoft.AspNetCore.Builder.IEndpointConventionBuilder =>
        Microsoft.AspNetCore.Builder.AuthorizationEndpointConventionBuilderExtensions.RequireAuthorization(
            endpoint, ScopeRequirement.Parse(scope).Scope);

    internal static AuthorizationPolicyBuilder RequireScope(this AuthorizationPolicyBuilder policy, ScopeRequirement requirement, bool nameTheScheme = true)
    {
        if (nameTheScheme)
        {
            policy.AddAuthenticationSchemes(ApiKeyDefaults.AuthenticationScheme);
        }

        return policy.RequireAuthenticatedUser().AddRequirements(requirement);
    }
}
