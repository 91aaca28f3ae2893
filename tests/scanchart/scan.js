#!/usr/bin/env node
/*
 * Runs scan-chart (the reference Clone Hero chart scanner, pinned in package.json) on chart folders
 * and prints one JSON document on stdout: {"<folder>": {...result...}, ...}.
 *
 * Usage: node scan.js FOLDER [FOLDER ...]
 *        node scan.js --stdin            (a JSON array of folder paths on standard input)
 *
 * Every regular file directly inside a folder is handed to `scanChartFolder`, as Clone Hero would see
 * the folder. Used by tests/formats/test_scanchart_parity.py, which batches all fixtures into one run.
 */
'use strict'

const fs = require('fs')
const path = require('path')
const { scanChartFolder } = require('scan-chart')

function readFolders() {
	const args = process.argv.slice(2)
	if (args.length === 1 && args[0] === '--stdin') {
		return JSON.parse(fs.readFileSync(0, 'utf8'))
	}
	return args
}

function scanFolder(folder) {
	const files = fs
		.readdirSync(folder, { withFileTypes: true })
		.filter(entry => entry.isFile())
		.map(entry => ({ fileName: entry.name, data: new Uint8Array(fs.readFileSync(path.join(folder, entry.name))) }))
	const scanned = scanChartFolder(files, { includeMd5: false })
	const badChart = scanned.folderIssues.filter(i => i.folderIssue === 'badChart').map(i => i.description)
	const notes = scanned.notesData
	const result = { chartHash: scanned.chartHash ?? null, badChart: badChart.length ? badChart.join('; ') : null }
	if (notes) {
		Object.assign(result, {
			instruments: notes.instruments,
			drumType: notes.drumType,
			hasSoloSections: notes.hasSoloSections,
			hasLyrics: notes.hasLyrics,
			hasVocals: notes.hasVocals,
			hasForcedNotes: notes.hasForcedNotes,
			hasTapNotes: notes.hasTapNotes,
			hasOpenNotes: notes.hasOpenNotes,
			has2xKick: notes.has2xKick,
			hasFlexLanes: notes.hasFlexLanes,
			tempoMarkerCount: notes.tempoMarkerCount,
			effectiveLength: notes.effectiveLength,
			noteCounts: notes.noteCounts,
			maxNps: notes.maxNps.map(m => ({ instrument: m.instrument, difficulty: m.difficulty, nps: m.nps, time: m.time })),
			trackHashes: notes.trackHashes.map(t => ({ instrument: t.instrument, difficulty: t.difficulty, hash: t.hash })),
			chartIssues: notes.chartIssues.map(i => ({
				instrument: i.instrument,
				difficulty: i.difficulty,
				noteIssue: i.noteIssue,
				description: i.description,
			})),
		})
	}
	return result
}

const out = {}
for (const folder of readFolders()) {
	try {
		out[folder] = scanFolder(folder)
	} catch (err) {
		out[folder] = { error: String(err && err.stack ? err.stack : err) }
	}
}
process.stdout.write(JSON.stringify(out))
