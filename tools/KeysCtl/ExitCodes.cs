namespace Keys.KeysCtl;

/// <summary>What scripts can rely on: <c>$?</c> tells a refused call apart from a mistyped command line.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>
    /// The API refused the call, KeyAdmin could not be reached, there is no token to send, or a listing could not be
    /// trusted (a KeyAdmin too old to filter, a page token sent twice).
    /// </summary>
    public const int Error = 1;

    /// <summary>The command line, or what was piped in for it (keys find: not a key), is wrong; nothing was sent.</summary>
    public const int Usage = 2;

    /// <summary>keys find: the key is not one of the projects the token may see (the API's <c>KEY_NOT_FOUND</c>).</summary>
    public const int NotFound = 3;

    /// <summary>Interrupted (Ctrl+C), as shells report a SIGINT.</summary>
    public const int Interrupted = 130;
}
