using System.ComponentModel.DataAnnotations;
using Keys.ServiceAuth;

namespace Keys.UnitTests;

public sealed class ServiceAuthOptionsTests
{
    [Fact]
    public void ATokenShorterThan32CharactersIsRefusedWithoutBeingEchoed()
    {
        var options = new ServiceAuthOptions
        {
            Token = "short-token",
            Callers = { ["gateway"] = "also-short", ["orders"] = new string('x', 32) },
        };

        var errors = options.Validate(new ValidationContext(options)).Select(e => e.ErrorMessage!).ToList();

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("ServiceAuth:Token", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("ServiceAuth:Callers:gateway", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain("short", e, StringComparison.Ordinal));
    }
}
