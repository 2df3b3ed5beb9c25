using Keys.AspNetCore.Authentication;
using Keys.AspNetCore.Authorization;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.AspNetCore.RateLimiting;
using Keys.AspNetCore.Validation;
using Keys.ServiceAuth;
using Keys.V1;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore;

public static class ApiKeyServiceCollectionExtensions
{
    /// <summary>
    /// API key authentication, as the gateway checks keys: <c>builder.Services.AddAuthentication(ApiKeyDefaults.AuthenticationScheme).AddApiKey()</c>.
    /// Endpoints then say <c>[Authorize(Policy = "orders:read")]</c> or <c>.RequireScope("orders:read")</c>. Reads
    /// section <c>ApiKeys</c> (<see cref="ApiKeyValidationOptions"/>) and this service's credential <c>ServiceAuth:Token</c>.
    /// </summary>
    public static AuthenticationBuilder AddApiKey(this AuthenticationBuilder builder)
    {
        var services = builder.Services;
        services.AddApiKeyValidation();
        services.AddAuthorization();
        // Replaced, not tried: AddAuthorization may already have registered the defaults these extend.
        services.Replace(ServiceDescriptor.Singleton<IAuthorizationPolicyProvider, ScopePolicyProvider>());
        services.Replace(ServiceDescriptor.Singleton<IAuthorizationMiddlewareResultHandler, ApiKeyAuthorizationResultHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, ScopeAuthorizationHandler>());

        // Registered as a plain handler: AuthenticationBuilder.AddScheme takes only AuthenticationHandler<TOptions>,
        // whose per-request set-up ApiKeyAuthenticationHandler avoids.
        services.TryAddTransient<ApiKeyAuthenticationHandler>();
        services.Configure<AuthenticationOptions>(options =>
        {
            if (!options.SchemeMap.ContainsKey(ApiKeyDefaults.AuthenticationScheme))
            {
                options.AddScheme<ApiKeyAuthenticationHandler>(ApiKeyDefaults.AuthenticationScheme, displayName: "API key");
            }
        });
        return builder;
    }

    /// <summary>
    /// The key check without an authentication scheme (<see cref="ApiKeyValidator"/>, the near cache and the Watch
    /// stream that keeps it exact, <see cref="ApiKeyRateLimiter"/>), for a caller that decides itself how to answer, as
    /// the gateway does.
    /// </summary>
    public static IServiceCollection AddApiKeyValidation(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ApiKeyValidator)))
        {
            return services;
        }

        services.AddOptions<ApiKeyValidationOptions>()
            .BindConfiguration(ApiKeyValidationOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddServiceAuth();
        services.AddGrpcClient<KeyValidationService.KeyValidationServiceClient>((sp, client) =>
                client.Address = sp.GetRequiredService<IOptions<ApiKeyValidationOptions>>().Value.KeyValidationAddress)
            .AddServiceCredential();

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<BackgroundLoops>();
        services.AddSingleton<ApiKeyMetrics>();
        services.AddSingleton<NearCache>();
        services.AddSingleton<ApiKeyValidator>();
        services.AddSingleton<ApiKeyRateLimiter>();
        services.AddSingleton<WatchStatus>();
        services.AddHostedService<InvalidationWatcher>();
        // Degraded, with the reason, while the near cache is off for want of a Watch stream.
        services.AddHealthChecks().AddCheck<WatchHealthCheck>(WatchHealthCheck.Name);
        return services;
    }
}
