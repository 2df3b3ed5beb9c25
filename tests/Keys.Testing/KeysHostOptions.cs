using Aspire.Hosting.Testing;

namespace Keys.Testing;

/// <summary>What a test collection or a benchmark asks of the system it starts; the rest is the same for all.</summary>
public sealed record KeysHostOptions
{
    /// <summary>What the system is started for (<c>tests</c>, <c>bench</c>, …): it names the data directory and the log file.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// The AppHost's environment, which it gives every service; null keeps the testing builder's (Development). The
    /// benchmarks run Production: Development checks every dependency-injection resolution, a cost no deployment pays.
    /// </summary>
    public string? EnvironmentName { get; init; }

    public int KeyValidationReplicas { get; init; } = 1;

    public int GatewayReplicas { get; init; } = 1;

    /// <summary>The operator token, given to the AppHost as <c>Parameters:admin-token</c>.</summary>
    public string AdminToken { get; init; } = KeysHost.NewToken();

    /// <summary>
    /// Gives the operator token to the AppHost as the environment variable <c>Parameters__admin-token</c> of this
    /// process, as an operator may, instead of as an argument. The AppHost runs in this process, so the variable is set
    /// while the app starts and put back afterwards: no other app may start meanwhile, or it would inherit it.
    /// </summary>
    public bool AdminTokenInEnvironment { get; init; }

    /// <summary>KeyValidation's credential for KeyAdmin's internal API; null lets the AppHost make one.</summary>
    public string? KeyValidationToken { get; init; }

    /// <summary>The gateway's credential for KeyValidation; null lets the AppHost make one.</summary>
    public string? GatewayToken { get; init; }

    /// <summary>The name KeyValidation knows the host's own calls by (<see cref="KeysHost.CallerToken"/>), as an internal service would be.</summary>
    public string CallerName { get; init; } = "tests";

    /// <summary>Starts the dashboard, which the testing builder otherwise leaves out, and so keeps the services' telemetry export.</summary>
    public bool Dashboard { get; init; }

    /// <summary>
    /// Services write a line for each request they serve (the endpoint it runs; for the gateway, YARP's line for each
    /// request it forwards), so that a search of the logs covers what requests make services write, not only what
    /// they write at start.
    /// </summary>
    public bool RequestLogs { get; init; }

    /// <summary>More AppHost configuration, as <c>key=value</c> arguments.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment variables for a project resource (every replica), over what the app model gives it.</summary>
    public IReadOnlyList<(string Resource, string Variable, string Value)> Environment { get; init; } = [];

    /// <summary>
    /// Where the resources' output goes, when the caller opened the file itself (to name it before the system starts,
    /// and to write there too); the caller disposes it. Null: the host opens one named after <see cref="Name"/>.
    /// </summary>
    public ResourceLogs? Logs { get; init; }

    /// <summary>Anything else, done to the builder last (a logger of the AppHost's own messages, …).</summary>
    public Action<IDistributedApplicationTestingBuilder>? Configure { get; init; }
}
