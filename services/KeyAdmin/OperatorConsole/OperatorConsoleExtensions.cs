namespace Keys.KeyAdmin.OperatorConsole;

/// <summary>
/// The operator console: static files from <c>wwwroot</c>, a client of the public REST API like any other. It holds no
/// secret, so it is served without the admin token; every call it makes sends the token the operator typed.
/// </summary>
public static class OperatorConsoleExtensions
{
    // Everything comes from KeyAdmin itself: no CDN, no inline script, and no framing (a framed console could be
    // clickjacked into deleting a key).
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static WebApplication UseOperatorConsole(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                // Revalidate every time: the files are small, and an operator should never run yesterday's console.
                // The page itself is not kept at all, so that Back from another site cannot restore it (with a
                // revealed secret key) from the back-forward cache.
                headers.CacheControl = context.File.Name.EndsWith(".html", StringComparison.Ordinal) ? "no-store" : "no-cache";
            },
        });
        return app;
    }
}
