using System.Security.Claims;
using Keys.ApiKeys;
using Keys.AspNetCore.Authentication;
using Keys.AspNetCore.Caching;
using Keys.V1;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Keys.AspNetCore.UnitTests;

/// <summary>A scope policy is met by a key this library validated, and by nothing that only looks like one.</summary>
public sealed class ScopePolicyTests : IDisposable
{
    private readonly ServiceProvider _services;

    public ScopePolicyTests()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ServiceAuth:Token"] = new string('t', 40) })
            .Build());
        services.AddLogging();
        services.AddAuthentication().AddApiKey();
        _services = services.BuildServiceProvider();
    }

    [Fact]
    public async Task KeyWhoseScopesCoverThePolicyMeetsIt()
    {
        var key = new ValidatedApiKey(
            new ValidateResponse { Outcome = ValidationOutcome.Valid, KeyId = "key_a", ProjectId = "prj_b", Environment = "prod", Scopes = { "orders:*" } },
            ApiKeyType.Secret,
            cachedAtTicks: 0);

        Assert.True(await AuthorizeAsync(new ClaimsPrincipal(new ApiKeyClaimsIdentity(key, ApiKeyDefaults.AuthenticationScheme))));
    }

    [Fact]
    public async Task PrincipalOfAnotherSchemeWithAKeysClaimsDoesNotMeetAScopePolicy()
    {
        // A token from another scheme, whose issuer put claims named like a key's in it, is no key: its "scope" claim
        // must not open an endpoint that asks for an API key's scope.
        var token = new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim(ApiKeyClaimTypes.KeyId, "key_forged"),
                new Claim(ApiKeyClaimTypes.KeyType, "secret"),
                new Claim(ApiKeyClaimTypes.Scope, "orders:*"),
            ],
            "Bearer"));

        Assert.False(await AuthorizeAsync(token));
    }

    public void Dispose() => _services.Dispose();

    private async Task<bool> AuthorizeAsync(ClaimsPrincipal user)
    {
        var policy = await _services.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync("orders:read");
        Assert.NotNull(policy);
        return (await _services.GetRequiredService<IAuthorizationService>().AuthorizeAsync(user, resource: null, policy)).Succeeded;
    }
}
