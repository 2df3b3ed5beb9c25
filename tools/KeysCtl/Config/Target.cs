namespace Keys.KeysCtl.Config;

/// <summary>Which KeyAdmin a command talks to, and with which token.</summary>
public sealed record Target(Uri Url, string? Token)
{
    public const string DefaultUrl = "http://localhost:8090";

    public const string UrlVariable = "KEYSCTL_URL";

    public const string TokenVariable = "KEYSCTL_TOKEN";

    /// <summary>
    /// The URL from <c>--url</c>, else <c>KEYSCTL_URL</c>, else the stored login's, else the local default. The token
    /// from <c>KEYSCTL_TOKEN</c>, else the stored login's, but only for the URL it was stored for: a token is never sent
    /// to a server it was not given for.
    /// </summary>
    public static Target Resolve(Uri? urlOption, KeysCtlConsole console, StoredLogin? stored)
    {
        var url = urlOption ?? ParseUrl(console.GetVariable(UrlVariable), UrlVariable)
            ?? ParseUrl(stored?.Url, "the stored login") ?? new Uri(DefaultUrl);
        var token = console.GetVariable(TokenVariable)
            ?? (stored is not null && SameServer(new Uri(stored.Url), url) ? stored.Token : null);
        return new Target(url, token);
    }

    /// <summary>An absolute http or https URL, or null: what <c>--url</c> and <c>KEYSCTL_URL</c> accept.</summary>
    public static Uri? TryParseUrl(string? text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            && string.IsNullOrEmpty(url.UserInfo) && string.IsNullOrEmpty(url.Query) && string.IsNullOrEmpty(url.Fragment)
            ? url
            : null;

    public static bool SameServer(Uri a, Uri b) => string.Equals(Normalize(a), Normalize(b), StringComparison.Ordinal);

    /// <summary>The URL as it is stored and shown: scheme, host, port and path, without a trailing slash.</summary>
    public static string Normalize(Uri url) => url.GetLeftPart(UriPartial.Path).TrimEnd('/');

    public string RequireToken() => Token ?? throw new KeysCtlException(
        $"not logged in to {Normalize(Url)}",
        $"run `keysctl login --url {Normalize(Url)}`, or set {TokenVariable}");

    private static Uri? ParseUrl(string? text, string source) => text is null
        ? null
        : TryParseUrl(text) ?? throw new KeysCtlException($"{source} is not an http(s) URL: {Sanitize.Line(text)}");
}
