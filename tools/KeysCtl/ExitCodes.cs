namespace Keys.KeysCtl;

/// <summary>What scripts can rely on: <c>$?</c> tells a refused call apart from a mistyped command line.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The API refused the call, KeyAdmin could not be reached, or there is no token to send.</summary>
    public const int Error = 1;

    /// <summary>The command line itself is wrong; nothing was sent.</summary>
    public const int Usage = 2;

    /// <summary>Interrupted (Ctrl+C), as shells report a SIGINT.</summary>
    public const int Interrupted = 130;
}
