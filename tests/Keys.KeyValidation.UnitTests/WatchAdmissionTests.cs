using Keys.KeyValidation.Grpc;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.UnitTests;

public sealed class WatchAdmissionTests
{
    private readonly WatchAdmission _admission = new(Options.Create(new KeyValidationOptions { WatchMaxStreams = 5, WatchMaxStreamsPerCaller = 3 }));

    [Fact]
    public void ACallerPastItsCapIsRefusedWhileOthersAreNot()
    {
        var gateway = Enumerable.Range(0, 3).Select(_ => _admission.TryEnter("gateway")).ToList();

        Assert.All(gateway, Assert.NotNull);
        Assert.Null(_admission.TryEnter("gateway"));
        Assert.NotNull(_admission.TryEnter("orders"));
    }

    [Fact]
    public void TheTotalCapHoldsAcrossCallers()
    {
        var slots = new[] { "a", "a", "b", "b", "c" }.Select(_admission.TryEnter).ToList();

        Assert.All(slots, Assert.NotNull);
        Assert.Null(_admission.TryEnter("d"));
    }

    [Fact]
    public void AClosedStreamGivesItsSlotBackOnce()
    {
        var slots = Enumerable.Range(0, 3).Select(_ => _admission.TryEnter("gateway")).ToList();

        slots[0]!.Dispose();
        slots[0]!.Dispose();

        Assert.NotNull(_admission.TryEnter("gateway"));
        Assert.Null(_admission.TryEnter("gateway"));
    }

    [Fact]
    public void CallerWhoseStreamsAllClosedMayOpenUpToItsCapAgain()
    {
        var first = Enumerable.Range(0, 3).Select(_ => _admission.TryEnter("gateway")).ToList();
        first.ForEach(slot => slot!.Dispose());

        var again = Enumerable.Range(0, 3).Select(_ => _admission.TryEnter("gateway")).ToList();

        Assert.All(again, Assert.NotNull);
        Assert.Null(_admission.TryEnter("gateway"));
    }
}
