using Grpc.AspNetCore.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Keys.ServiceAuth;

public static class ServiceAuthExtensions
{
    /// <summary>Binds <see cref="ServiceAuthOptions"/> and validates them at start.</summary>
    public static IServiceCollection AddServiceAuth(this IServiceCollection services)
    {
        services.AddOptions<ServiceAuthOptions>()
            .BindConfiguration(ServiceAuthOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<ServiceCredentialInterceptor>();
        return services;
    }

    /// <summary>Every call of <typeparamref name="TService"/> needs a caller's service credential.</summary>
    public static IGrpcServerBuilder RequireServiceCredential<TService>(this IGrpcServerBuilder grpc)
        where TService : class =>
        grpc.AddServiceOptions<TService>(options => options.Interceptors.Add<ServiceCredentialInterceptor>());

    /// <summary>This client presents the service's own token (<c>ServiceAuth:Token</c>) on every call.</summary>
    public static IHttpClientBuilder AddServiceCredential(this IHttpClientBuilder client)
    {
        client.Services.AddOptions<ServiceAuthOptions>()
            .Validate(o => o.Token.Length > 0, "ServiceAuth:Token is not set: the services this one calls would refuse it. The AppHost sets it; see docs/security.md.")
            .ValidateOnStart();
        return client.AddHttpMessageHandler(sp => new ServiceCredentialHandler(sp.GetRequiredService<IOptions<ServiceAuthOptions>>()));
    }
}
