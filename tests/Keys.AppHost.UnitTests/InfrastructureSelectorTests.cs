using Keys.AppHost.Infrastructure;

namespace Keys.AppHost.UnitTests;

public sealed class InfrastructureSelectorTests
{
    private static readonly LocalBinaries Binaries = new("/usr/lib/postgresql/15/bin", "/usr/bin/redis-server");

    [Fact]
    public void ExternalWinsWhenBothConnectionStringsAreConfigured() =>
        Assert.Equal(InfrastructureMode.External, InfrastructureSelector.Choose(null, Probe(external: true, containers: true, local: true)));

    [Fact]
    public void ContainersComeBeforeLocalBinariesWhenARuntimeAnswers() =>
        Assert.Equal(InfrastructureMode.Containers, InfrastructureSelector.Choose(null, Probe(external: false, containers: true, local: true)));

    [Fact]
    public void LocalBinariesAreUsedWhenNoRuntimeAnswers() =>
        Assert.Equal(InfrastructureMode.Local, InfrastructureSelector.Choose(null, Probe(external: false, containers: false, local: true)));

    [Theory]
    [InlineData("local", InfrastructureMode.Local)]
    [InlineData("Containers", InfrastructureMode.Containers)]
    public void ConfiguredModeOverridesDetection(string configured, InfrastructureMode expected) =>
        Assert.Equal(expected, InfrastructureSelector.Choose(configured, Probe(external: true, containers: true, local: true)));

    [Fact]
    public void NothingUsableFailsNamingThePackagesToInstall()
    {
        var error = Assert.Throws<InvalidOperationException>(() => InfrastructureSelector.Choose(null, Probe(external: false, containers: false, local: false)));

        Assert.Contains("apt-get install -y postgresql redis-server", error.Message);
    }

    [Fact]
    public void ExternalModeWithoutConnectionStringsFailsNamingThem()
    {
        var error = Assert.Throws<InvalidOperationException>(() => InfrastructureSelector.Choose("external", Probe(external: false, containers: true, local: true)));

        Assert.Contains("ConnectionStrings:keysdb", error.Message);
    }

    [Fact]
    public void ContainerRuntimeIsNotProbedWhenExternalServersAreConfigured()
    {
        var probe = new InfrastructureProbe(true, () => throw new InvalidOperationException("probed"), () => Binaries);

        Assert.Equal(InfrastructureMode.External, InfrastructureSelector.Choose(null, probe));
    }

    private static InfrastructureProbe Probe(bool external, bool containers, bool local) =>
        new(external, () => containers, () => local ? Binaries : null);
}
