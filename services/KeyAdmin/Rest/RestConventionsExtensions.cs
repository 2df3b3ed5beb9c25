using System.Buffers;

namespace Keys.KeyAdmin.Rest;

public static class RestConventionsExtensions
{
    /// <summary>
    /// The REST API's answers before an RPC runs (<see cref="RestConventionsMiddleware"/>). After routing, which
    /// WebApplication runs first, so that the endpoint a request reached is known.
    /// </summary>
    public static WebApplication UseRestConventions(this WebApplication app)
    {
        var routes = new RestRoutes(app.Services.GetRequiredService<EndpointDataSource>());
        app.UseMiddleware<RestConventionsMiddleware>(routes, ArrayPool<byte>.Shared);
        return app;
    }
}
