import t from 'tap'
t.equal(process.version.slice(0, 4), 'v24.', 'tests run on Node 24')
