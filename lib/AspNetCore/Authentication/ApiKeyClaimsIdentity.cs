using System.Security.Claims;
using Keys.AspNetCore.Caching;

namespace Keys.AspNetCore.Authentication;

/// <summary>
/// The identity an API key proves. It carries the validated key itself, so that scope checks and
/// <c>GetApiKey()</c> read it without searching claims, and it shares the key's claims across requests instead of
/// copying them into every request's identity (<see cref="Claim"/> is immutable). Claims added to it stay its own.
/// </summary>
public sealed class ApiKeyClaimsIdentity : ClaimsIdentity
{
    public ApiKeyClaimsIdentity(ValidatedApiKey key, string authenticationType)
        : base(authenticationType, ApiKeyClaimTypes.KeyId, roleType: null)
    {
        Key = key;
    }

    private ApiKeyClaimsIdentity(ApiKeyClaimsIdentity other)
        : base(other)
    {
        Key = other.Key;
    }

    public ValidatedApiKey Key { get; }

    public override IEnumerable<Claim> Claims
    {
        get
        {
            foreach (var claim in Key.Claims)
            {
                yield return claim;
            }

            foreach (var claim in base.Claims)
            {
                yield return claim;
            }
        }
    }

    public override ClaimsIdentity Clone() => new ApiKeyClaimsIdentity(this);
}
