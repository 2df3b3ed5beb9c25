using Microsoft.Extensions.Hosting;

namespace Keys.AppHost.Infrastructure;

public static class HostEnvironmentExtensions
{
    /// <summary>
    /// The service runs in the AppHost's own environment. Aspire hands a project only its launch profile's environment,
    /// and the services have none: without this they would run as Production under <c>./keys run</c>, where
    /// Development's conveniences (gRPC reflection for grpcurl and Postman) belong.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithHostEnvironment(this IResourceBuilder<ProjectResource> project, IHostEnvironment environment) =>
        project.WithEnvironment("ASPNETCORE_ENVIRONMENT", environment.EnvironmentName)
            .WithEnvironment("DOTNET_ENVIRONMENT", environment.EnvironmentName);
}
