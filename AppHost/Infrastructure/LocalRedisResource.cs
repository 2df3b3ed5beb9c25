namespace Keys.AppHost.Infrastructure;

/// <summary>A <c>redis-server</c> process that Aspire starts, with the connection string services reference.</summary>
public sealed class LocalRedisResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference Endpoint => new(this, EndpointName);

    public ParameterResource Password { get; } = password;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Endpoint.Property(EndpointProperty.HostAndPort)},password={Password}");
}
