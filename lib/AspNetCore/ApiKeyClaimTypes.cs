using System.Security.Claims;
using Keys.ApiKeys;

namespace Keys.AspNetCore;

/// <summary>The claims of a principal authenticated by an API key.</summary>
public static class ApiKeyClaimTypes
{
    public const string KeyId = "key_id";
    public const string ProjectId = "project_id";
    public const string Environment = "environment";

    /// <summary><c>secret</c> or <c>publishable</c>.</summary>
    public const string KeyType = "key_type";

    /// <summary>One claim per scope (e.g. <c>orders:read</c>); none for a key without scopes.</summary>
    public const string Scope = "scope";
}

/// <summary>Who called: the identity an API key proved.</summary>
public sealed record ApiKeyIdentity(string KeyId, string ProjectId, string Environment, ApiKeyType Type, IReadOnlyList<string> Scopes);

public static class ApiKeyPrincipalExtensions
{
    /// <summary>The API key this request was authenticated with; null when it was not authenticated by one.</summary>
    public static ApiKeyIdentity? GetApiKey(this Microsoft.AspNetCore.Http.HttpContext context) => context.User.GetApiKey();

    /// <summary>
    /// The API key this principal was authenticated with; null when it was not authenticated by one. Only a key this
    /// library validated counts (an <see cref="Authentication.ApiKeyClaimsIdentity"/>): claims of the same names from
    /// another scheme (a token whose issuer put a <c>key_id</c> or a <c>scope</c> in it) never pass for a key.
    /// </summary>
    public static ApiKeyIdentity? GetApiKey(this ClaimsPrincipal principal) => ValidatedKeyOf(principal)?.Identity;

    /// <summary>The validated key behind a principal this library authenticated; null for any other principal.</summary>
    internal static Caching.ValidatedApiKey? ValidatedKeyOf(ClaimsPrincipal principal)
    {
        foreach (var identity in principal.Identities)
        {
            if (identity is Authentication.ApiKeyClaimsIdentity { IsAuthenticated: true } keyIdentity)
            {
                return keyIdentity.Key;
            }
        }

        return null;
    }
}
