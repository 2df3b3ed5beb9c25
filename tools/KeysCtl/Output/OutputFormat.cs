namespace Keys.KeysCtl.Output;

public enum OutputFormat
{
    /// <summary>Tables for people: bordered and coloured on a terminal, plain columns in a pipe.</summary>
    Table,

    /// <summary>The API's JSON (see README): for scripts, nothing else on stdout.</summary>
    Json,
}
