namespace Keys.AspNetCore;

public static class ApiKeyDefaults
{
    /// <summary>The authentication scheme <c>AddApiKey</c> registers, and that scope policies authenticate with.</summary>
    public const string AuthenticationScheme = "ApiKey";

    /// <summary>
    /// Where a client sends its key: the <c>X-API-Key</c> header, which for gRPC is the <c>x-api-key</c> metadata entry
    /// (gRPC metadata travels as HTTP/2 headers, and header names are case-insensitive).
    /// </summary>
    public const string HeaderName = "X-API-Key";

    /// <summary>The meter and activity source of the library.</summary>
    public const string DiagnosticsName = "Keys.AspNetCore";
}
