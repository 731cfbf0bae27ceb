-- A row of another client than the partition's ($client).
{column} <> $client
