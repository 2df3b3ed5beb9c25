using System.ComponentModel.DataAnnotations;
using Google.Rpc;
using Grpc.Core;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

/// <summary>When a Changes reader missed pruned rows, how KeyAdmin says so, and which retentions it accepts.</summary>
public sealed class OutboxRetentionRulesTests
{
    [Theory]
    [InlineData(0, null, false)] // an empty outbox
    [InlineData(0, 1L, false)] // nothing pruned yet
    [InlineData(41, 42L, false)] // the next row is the next sequence
    [InlineData(42, null, false)] // at the head
    [InlineData(0, 2L, true)] // sequence 1 was pruned
    [InlineData(40, 42L, true)] // sequence 41 was pruned
    public void ReaderIsTooOldExactlyWhenTheFirstRowAfterItIsNotTheNextSequence(long since, long? firstAfter, bool tooOld) =>
        Assert.Equal(tooOld, Outbox.IsTooOld(since, firstAfter));

    [Fact]
    public void ChangesTooOldIsFailedPreconditionWithAStableReasonAndTheSequencesKept()
    {
        var error = InternalApi.ChangesTooOld(since: 7, oldest: 120, head: 130);

        ApiErrorAssert.Is(error, StatusCode.FailedPrecondition, "CHANGES_TOO_OLD");
        var info = error.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal("120", info.Metadata["oldest_sequence"]);
        Assert.Equal("130", info.Metadata["head_sequence"]);
    }

    [Theory]
    [InlineData("00:00:00", false)]
    [InlineData("00:00:01", true)]
    [InlineData("7.00:00:00", true)]
    [InlineData("3651.00:00:00", false)]
    public void OutboxRetentionIsFromOneSecondToTenYears(string retention, bool valid)
    {
        var options = new KeyAdminOptions { AdminToken = new string('a', 32), OutboxRetention = TimeSpan.Parse(retention, System.Globalization.CultureInfo.InvariantCulture) };

        Assert.Equal(valid, Validator.TryValidateObject(options, new ValidationContext(options), [], validateAllProperties: true));
    }

    [Fact]
    public void DefaultsKeepAWeekAndPruneEveryFiveMinutes()
    {
        var options = new KeyAdminOptions();

        Assert.Equal(TimeSpan.FromDays(7), options.OutboxRetention);
        Assert.Equal(TimeSpan.FromMinutes(5), options.OutboxPruneInterval);
    }
}
