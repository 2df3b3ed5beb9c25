using System.Text.Json;
using Keys.V1;

namespace Keys.KeyAdmin.UnitTests;

public sealed class UntracedPathsTests
{
    // KeyValidation calls Changes every second and RecordUsage in batches: traced, they would bury the dashboard's
    // traces of the calls operators look for. A path that names no RPC silences nothing, and nothing says so.
    [Fact]
    public void EveryUntracedPathInKeyAdminsSettingsIsTheGrpcPathOfOneOfItsMethods()
    {
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "KeyAdmin.appsettings.json")));
        var untraced = settings.RootElement.GetProperty("OpenTelemetry").GetProperty("UntracedPaths")
            .EnumerateArray().Select(path => path.GetString()!).ToList();
        var methods = new[] { KeyAdminService.Descriptor, KeyAdminInternalService.Descriptor }
            .SelectMany(service => service.Methods)
            .Select(method => $"/{method.Service.FullName}/{method.Name}")
            .ToHashSet();

        Assert.Equal(["/keys.v1.KeyAdminInternalService/Changes", "/keys.v1.KeyAdminInternalService/RecordUsage"], untraced);
        Assert.All(untraced, path => Assert.Contains(path, methods));
    }
}
