using Microsoft.OpenApi.Models;

namespace Keys.KeyAdmin.OpenApi;

public static class OpenApiServers
{
    /// <summary>
    /// The document names the address it was fetched from as its server, so that a generated client or a linter run
    /// against this KeyAdmin (behind a proxy or on another port) points at it. An absolute URL, which every generator
    /// takes; a relative one leaves each tool to guess the base.
    /// </summary>
    public static void FromRequest(OpenApiDocument document, HttpRequest request) =>
        document.Servers = [new OpenApiServer { Url = $"{request.Scheme}://{request.Host}{request.PathBase}", Description = "This KeyAdmin" }];
}
