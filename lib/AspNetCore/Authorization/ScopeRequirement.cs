using Keys.ApiKeys;
using Keys.AspNetCore.Authentication;
using Keys.AspNetCore.Validation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Keys.AspNetCore.Authorization;

/// <summary>The caller's API key must allow <see cref="Operation"/> on <see cref="Resource"/> (scope <c>resource:operation</c>).</summary>
public sealed class ScopeRequirement : IAuthorizationRequirement
{
    private ScopeRequirement(string resource, string operation)
    {
        Resource = resource;
        Operation = operation;
    }

    public string Resource { get; }

    public string Operation { get; }

    public string Scope => $"{Resource}:{Operation}";

    /// <summary>
    /// A scope an endpoint needs: one resource and one operation (<c>orders:read</c>). Wildcards are for keys, not for
    /// endpoints: an endpoint that asked for <c>*:read</c> would let any key with a matching wildcard in.
    /// </summary>
    public static bool TryParse(string? scope, out ScopeRequirement requirement)
    {
        requirement = null!;
        var colon = scope?.IndexOf(':') ?? -1;
        if (colon <= 0)
        {
            return false;
        }

        var resource = scope![..colon];
        var operation = scope[(colon + 1)..];
        if (resource == "*" || !Scopes.IsValidResource(resource) || !Scopes.Operations.Contains(operation))
        {
            return false;
        }

        requirement = new ScopeRequirement(resource, operation);
        return true;
    }

    public static ScopeRequirement Parse(string scope) => TryParse(scope, out var requirement)
        ? requirement
        : throw new ArgumentException(
            $"'{scope}' is not a scope an endpoint can require: resource:operation, the operation one of {string.Join(", ", Scopes.Operations)} (e.g. orders:read).",
            nameof(scope));

    public override string ToString() => Scope;
}

/// <summary>Checks a <see cref="ScopeRequirement"/> against the key the request was authenticated with.</summary>
internal sealed class ScopeAuthorizationHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        // Only a key this library validated: a principal of another scheme whose claims look like a key's is no key.
        if (ApiKeyPrincipalExtensions.ValidatedKeyOf(context.User) is not { } key)
        {
            // The requirement is unmet, and the policy's authentication says why.
            return Task.CompletedTask;
        }

        var refusal = ApiKeyChecks.CheckScope(key, requirement.Resource, requirement.Operation);
        if (refusal is null)
        {
            context.Succeed(requirement);
        }
        else
        {
            if (context.Resource is HttpContext http)
            {
                ApiKeyAuthenticationHandler.ApiKeyFeatureOf(http).ScopeRefusal = refusal;
            }

            context.Fail(new AuthorizationFailureReason(this, refusal.Message));
        }

        return Task.CompletedTask;
    }
}
