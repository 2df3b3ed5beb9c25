using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi.Models;

namespace Keys.KeyAdmin.OpenApi;

public static class OpenApiServers
{
    /// <summary>
    /// The document names the address it was fetched from as its server, so that a generated client or a linter run
    /// against this KeyAdmin (behind a proxy or on another port) points at it. An absolute URL, which every generator
    /// takes; a relative one leaves each tool to guess the base.
    /// </summary>
    /// <remarks>
    /// That address comes from the request's Host header, which the client chooses: a cache in front that kept the
    /// document fetched with <c>Host: evil.example</c> would hand everyone a server where generated clients send their
    /// operator tokens. So no cache may keep it (<c>no-store</c>), and one that ignores that still keys it by Host.
    /// </remarks>
    public static void FromRequest(OpenApiDocument document, HttpRequest request)
    {
        document.Servers = [new OpenApiServer { Url = $"{request.Scheme}://{request.Host}{request.PathBase}", Description = "This KeyAdmin" }];
        var headers = request.HttpContext.Response.Headers;
        headers.CacheControl = "no-store";
        headers.Append(HeaderNames.Vary, HeaderNames.Host);
    }
}
